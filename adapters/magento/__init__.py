"""Magento 2 / Adobe Commerce adapter: REST simulator (registration comes later)."""
