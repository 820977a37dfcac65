"""Front Door's custom actions (rasa-sdk), split by feature."""

import os
import threading

if os.environ.get("FRONTDOOR_WARM_RESOLVER") == "1":
    # Build the place resolver while the action server starts, not on the first
    # person's message (it takes a few seconds to load the gazetteer).
    from bot.directory.resolver import get_resolver

    threading.Thread(target=get_resolver, name="warm-resolver", daemon=True).start()
