"""Toolbox Commerce plugin: new orders posted to the shop's staff chat through the Telegram Bot API."""
