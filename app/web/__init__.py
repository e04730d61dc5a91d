"""The analyst web explorer (Streamlit): ``ringwatch app`` runs ``app/web/main.py``."""
