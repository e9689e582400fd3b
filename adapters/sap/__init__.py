"""SAP S/4HANA adapter: sales orders in through the OData V2 API_SALES_ORDER_SRV service."""
