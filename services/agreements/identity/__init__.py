"""Staff identity of a tenant: local users with argon2 password hashes, the built-in
OpenID Connect provider, and the portal's server-side sessions."""
