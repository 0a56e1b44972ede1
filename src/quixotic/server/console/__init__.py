"""Appwrite's console surface on the local server: the console-spec routes the official CLI calls
(``routes``) and the handlers behind them (``handlers``: proxy rules, the console-only projects group)."""
