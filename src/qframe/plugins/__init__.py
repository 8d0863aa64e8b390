"""The built-in plugins (registered through entry points like any external plugin)."""
