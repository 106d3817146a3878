"""The bus's transports: RabbitMQ (pika) in production, the embedded kombu/SQLite bus for the
embedded default. Both implement :class:`messaging.transports.base.Transport`; which one a
platform uses is chosen once, in the composition root (``deploy.wiring.bus_transport``).
"""
