"""E-mail parsing shared by the Maildir, mbox and IMAP connectors."""
