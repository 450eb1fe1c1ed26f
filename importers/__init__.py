"""Reading the school's exports (timetable, parental consent) into Chaperone's models.

All or nothing: every row is checked first, every problem is reported with its line
number, and nothing is imported unless all of it can be.
"""
