"""What to send: OTLP payload builders and encoders. Knows nothing about HTTP or Locust."""
