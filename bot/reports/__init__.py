"""Reports: anonymous facts, figures, charts and exports; ratings (CSAT)."""
