class IncludedFile:
    """Metaflow's wrapper of an included file's bytes (its checkers test artifacts against it). Here an IncludeFile
    parameter's value is the file's content itself, so no artifact is one."""
