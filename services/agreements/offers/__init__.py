"""The local offer directory: each tenant's offers in the Open Referral HSDS 3 model, their
import and export (JSON and tabular datapackage), suggestions for a client's goal that say
why they fit, the public HSDS read API and the portal's offer pages (docs/offers.md)."""
