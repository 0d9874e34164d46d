"""Reads a CSV export as a spreadsheet program does (Python's csv module: RFC 4180 quoting,
a UTF-8 byte order mark dropped) and prints its rows as JSON, one list of cells per row."""
import csv
import io
import json
import sys

text = sys.stdin.buffer.read().decode("utf-8-sig")
print(json.dumps(list(csv.reader(io.StringIO(text, newline=""))), ensure_ascii=False))
