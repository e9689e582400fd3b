"""Invoicing: from orders to invoices.

Modules are imported on their own (nothing is imported here, so one module's dependencies
never load with another's); e.g. :mod:`hub.invoicing.pricing` is the B2B pricing engine
(``PricingRules.load(paths).price(request)``) and :mod:`hub.invoicing.pricing_rules` its
rule format.
"""
