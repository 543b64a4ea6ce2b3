"""The use cases, one module per concern: typed input, a principal, an engine; dataclasses out.

A service owns its transaction, never imports fastapi or starlette, never prints: the
doors (routers, pages, commands) parse, authorise, call one service and shape its answer.
"""
