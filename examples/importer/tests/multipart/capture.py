# Captures one HTTP request as sent (headers and Content-Length body) into OUT; made the fixtures:
#   python3 capture.py 18081 curl_file_method.http &
#   curl -F file=@tiny.xlsx -F method=batch http://127.0.0.1:18081/import
#   python3 capture.py 18082 curl_quoted_filename.http &
#   curl -F 'file=@tiny.xlsx;filename=q"uo\te é.xlsx' http://127.0.0.1:18082/import
#   python3 capture.py 18083 chromium_formdata.http &
#   chromium --headless --disable-gpu --no-sandbox --virtual-time-budget=5000 --dump-dom \
#       file://$PWD/page.html
# (curl 7.88.1, Chromium 156, Debian 12.) Usage: capture.py PORT OUT
import socket, sys
port, out = int(sys.argv[1]), sys.argv[2]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(1)
c, _ = s.accept()
data = b""
while b"\r\n\r\n" not in data:
    data += c.recv(65536)
head, body = data.split(b"\r\n\r\n", 1)
n = 0
for line in head.split(b"\r\n"):
    if line.lower().startswith(b"content-length:"):
        n = int(line.split(b":")[1])
    if line.lower().startswith(b"expect:"):
        c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
while len(body) < n:
    body += c.recv(65536)
open(out, "wb").write(head + b"\r\n\r\n" + body)
c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nAccess-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n")
c.close()
