"""Teaching by prediction: questions generated from a trace (:mod:`.questions`) and lessons
as data files (:mod:`.lessons`).  Pure Python + numpy: the window, the command line and the
tests use the same code, with no display."""
