"""The api: database of record, bill splits, ACL publishing, web pages."""
