"""What the command line draws for people: rich views (display.py), the choice between them
and plain lines (console.py), and leads as tables, JSON, JSON Lines or CSV (leads_export.py)."""
