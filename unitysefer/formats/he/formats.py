# Django's Hebrew formats do not group digits ("304805"); Israelis write "304,805", as the
# comma that Django already sets as the thousands separator says. Everything else is Django's.
NUMBER_GROUPING = 3
