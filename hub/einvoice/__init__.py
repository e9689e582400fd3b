"""E-invoices: UBL 2.1 / Peppol BIS Billing 3.0 and UN/CEFACT CII / Factur-X, rendered from
the canonical invoice and validated against the official schemas and business rules."""
