"""orders: catalog, offers, stock, checkout, payments, the referral ledger."""
