def is_stringish(x):
    return isinstance(x, (str, bytes))
