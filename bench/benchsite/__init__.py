"""The site bench/reports.py serves with gunicorn: the project as it is, plus a trivial JSON view
to measure the campaigns endpoint against in the same server. Not part of the application."""
