"""Dashboard pages: each file is a Streamlit page script run by dashboards/app.py."""
