"""What Integra ships to its partner agencies: the clients an agency runs on its own side.

- :mod:`.amqp_client`: :class:`~.amqp_client.AgencyClient`, for an agency on the AMQP channel
  (reads its referrals queue, answers to its exchange; pika);
- :mod:`.webhook_client`: :func:`~.webhook_client.sign_answer` and
  :func:`~.webhook_client.post_answer`, for an agency answering the webhook channel's callback
  (joserfc, requests);
- :mod:`.protocol`: the names both sides must agree on (queues, answer types, the answer JWS).

The package stands alone: it imports the standard library, pika, joserfc and requests and
nothing of the platform, and its modules refer to each other relatively, so an agency can copy
the folder under any name and use it without Integra. The platform's own declarations
(``messaging.topology``, ``tenants.vocabulary``, the webhook callback) stay the source of
truth; ``tests/connectors/test_agency_package.py`` holds this package's copies to them.
"""
