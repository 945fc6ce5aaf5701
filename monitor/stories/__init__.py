"""Stories: what the people on call hear about, each told once with a lifecycle.

``operator`` holds the operator's problems (invalid rule files, rejected credentials): one notice
when a problem opens, one when it is fixed, nothing in between however often it recurs.
"""
