"""Front Door's custom actions (rasa-sdk), split by feature."""
