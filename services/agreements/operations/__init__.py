"""Business operations: plain functions that validate, change state and flush.

They never commit: the caller (a view or a message handler) commits at the edge, so a state
change, its audit events and its outgoing messages land in one transaction.
"""
