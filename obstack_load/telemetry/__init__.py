"""What to send: realistic OTLP data generators, the payload pool and the codec. Knows nothing
about HTTP; only the payload pool's refresher runs on gevent."""
