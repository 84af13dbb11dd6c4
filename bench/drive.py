"""One request after another on one kept-alive connection, for the callgrind counts
(bench/instructions.sh, bench/pg_instructions.sh): KIND "send" texts the consumers FIRST onwards
(each a new one); "reply" posts an agent's reply round robin into the 150 chats from chat FIRST on.

    python3 bench/drive.py PORT BASIC KIND FIRST COUNT
"""
import http.client, json, sys
port, basic, kind, first, count = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
headers = {"Content-Type": "application/json", "Authorization": "Basic " + basic}
for n in range(count):
    if kind == "send":
        number = f"+1 415-{200 + (first + n) // 10000 % 800:03d}-{(first + n) % 10000:04d}"
        path, body = "/apps/api/v1/sms", {"chat_type": "Messaging (SMS)", "end_user_number": number,
                                          "outbound_number": "+1 628-555-0199", "message": "lorem ipsum"}
    else:
        path, body = f"/apps/api/v1/chats/{first + n % 150}/messages", {"message": "Your order shipped today."}
    conn.request("POST", path, json.dumps(body), headers)
    response = conn.getresponse()
    answer = response.read()
    if not 200 <= response.status < 300:
        sys.exit(f"{kind} {n}: {response.status} {answer[:200]!r}")
