"""Custom search attributes of renewal workflows, so that Temporal's UI and
``temporal workflow list --query "RenewalStage='legal_review'"`` find renewals.

They must be registered on the namespace first (``renewals dev`` and the dev-server tests do;
production: ``temporal operator search-attribute create``). A renewal started without them, as on
the time-skipping test server, which rejects unknown attributes, simply never upserts them.
"""

from temporalio.common import SearchAttributeKey

CONTRACT_ID = SearchAttributeKey.for_keyword("RenewalContractId")
SUPPLIER = SearchAttributeKey.for_keyword("RenewalSupplier")
STAGE = SearchAttributeKey.for_keyword("RenewalStage")
EXPIRY = SearchAttributeKey.for_datetime("RenewalExpiry")
# Set only by renewals started before the private-search-attributes patch: an owner's e-mail
# address does not belong in the (unencrypted) visibility store. Kept registered for them.
OWNER = SearchAttributeKey.for_keyword("RenewalOwner")

ALL = (CONTRACT_ID, SUPPLIER, STAGE, EXPIRY, OWNER)
