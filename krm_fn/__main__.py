from .function import entry

entry()
