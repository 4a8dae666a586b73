"""The example project plus the streams and endpoints the behaviour tests need."""
