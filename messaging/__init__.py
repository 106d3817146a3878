"""The bus: envelope, versioned contracts, topology, outbox relay, inbox, signing.

Every guarantee about messages between a tenant's services and its partner agencies lives here:
a message is validated against its contract before it enters the outbox, signed with the tenant's
key when it leaves, published with confirms, and takes effect once at the receiver. Nothing in
this package imports ``services``; services import it.
"""
