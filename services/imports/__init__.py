"""Files people bring in: contracts, suppliers, deliveries, tickets, prices and market data.
Every row is checked before anything is stored."""
