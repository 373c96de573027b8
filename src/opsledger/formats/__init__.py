"""Parsing kit shared by readers: text files, CSV rows, typed fields, Markdown tables,
workbooks, JSON records.
"""
