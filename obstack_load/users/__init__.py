"""Who sends the load: Locust user classes, their tenant assignment and the OTLP client rules."""
