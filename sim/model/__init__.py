"""Mesa layer: actors, the negotiation model, protocols, strategies and between-round dynamics."""
