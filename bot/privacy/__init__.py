"""Data protection: retention sweep, export, erasure and the audit log (issue 13).

See docs/privacy.md for the policy these implement. ``erase_conversation`` is
what a channel calls when the person deletes their own conversation (the
widget's "Delete this conversation", Telegram's /delete).
"""

from bot.privacy.erasure import erase_conversation, erase_conversations

__all__ = ["erase_conversation", "erase_conversations"]
