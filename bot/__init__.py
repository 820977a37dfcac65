"""Front Door: a chat front door to the UK voluntary-sector support system."""
