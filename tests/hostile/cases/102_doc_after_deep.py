# expect: {"status": 200, "result": {"still": "serving"}}
# After the deep documents of 100 and 101, the server and its zygote still
# answer the next request.


def main():
    return {"still": "serving"}
