"""The Telegram adapter: `run.run_bot` serves an Engine through python-telegram-bot."""
