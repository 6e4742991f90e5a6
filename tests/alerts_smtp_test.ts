/**
 * The email channel against a real SMTP server (aiosmtpd, from Debian's python3-aiosmtpd) that
 * requires TLS and authentication: STARTTLS on a submission port and implicit TLS, with a
 * private CA given by `--ca-file`; a wrong password, an untrusted certificate and a plain
 * connection to a server that requires STARTTLS each fail with the server's reason.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { cli, component, freePort, initNode, tempHome, until } from "./helpers.ts";

const SMTP = component("aiosmtpd", "the SMTP channel test (a real SMTP server)");
const OPENSSL = component("openssl", "the SMTP channel test (a test certificate)");
const FIXTURE = new URL("./fixtures/smtp_server.py", import.meta.url).pathname;

/** aiosmtpd's own interpreter (its script's `#!` line), which has the aiosmtpd package. */
async function python(): Promise<string> {
  const first = (await Deno.readTextFile(SMTP.path!)).split("\n")[0];
  return first.startsWith("#!") ? first.slice(2).trim().split(" ")[0] : "python3";
}

Deno.test({
  name:
    "email channel: STARTTLS and implicit TLS with AUTH and a private CA reach a real SMTP server; bad password, untrusted certificate and no TLS fail with the reason",
  ignore: SMTP.ignore || OPENSSL.ignore,
  async fn() {
    const root = await tempHome();
    const procs: Deno.ChildProcess[] = [];
    try {
      const cert = join(root, "cert.pem");
      const key = join(root, "key.pem");
      const made = await new Deno.Command(OPENSSL.path!, {
        args: [
          "req",
          "-x509",
          "-newkey",
          "rsa:2048",
          "-nodes",
          "-keyout",
          key,
          "-out",
          cert,
          "-days",
          "2",
          "-subj",
          "/CN=127.0.0.1",
          "-addext",
          "subjectAltName=IP:127.0.0.1",
        ],
        stdout: "null",
        stderr: "null",
      }).output();
      assert.equal(made.code, 0, "openssl made a certificate");
      const py = await python();
      const start = async (port: number, maildir: string, implicit: boolean) => {
        const p = new Deno.Command(py, {
          args: [
            FIXTURE,
            String(port),
            maildir,
            cert,
            key,
            "miner",
            "s3cret-pw",
            ...(implicit ? ["--implicit-tls"] : []),
          ],
          stdout: "piped",
          stderr: "null",
        }).spawn();
        procs.push(p);
        const reader = p.stdout.pipeThrough(new TextDecoderStream()).getReader();
        let out = "";
        while (!out.includes("ready")) {
          const { value, done } = await reader.read();
          if (done) throw new Error("the SMTP server exited");
          out += value;
        }
        reader.releaseLock();
      };
      const submission = freePort();
      const smtps = freePort();
      await start(submission, join(root, "mail587"), false);
      await start(smtps, join(root, "mail465"), true);
      const home = join(root, "c");
      await initNode(home, "boss", "controller");
      await Deno.writeTextFile(join(root, "pw"), "s3cret-pw\n");
      await Deno.writeTextFile(join(root, "bad"), "wrong\n");
      const add = (name: string, extra: string[]) =>
        cli(home, [
          "alerts",
          "channels",
          "add",
          name,
          "--type",
          "email",
          "--smtp-host",
          "127.0.0.1",
          "--from",
          "miner-cli@example.com",
          "--to",
          "ops@example.com,night@example.com",
          "--smtp-user",
          "miner",
          ...extra,
        ]);
      const ok = async (name: string, extra: string[]) =>
        assert.equal((await add(name, extra)).code, 0, name);
      await ok("starttls", [
        "--smtp-port",
        String(submission),
        "--smtp-security",
        "starttls",
        "--secret-file",
        join(root, "pw"),
        "--ca-file",
        cert,
      ]);
      await ok("tls", [
        "--smtp-port",
        String(smtps),
        "--smtp-security",
        "tls",
        "--secret-file",
        join(root, "pw"),
        "--ca-file",
        cert,
      ]);
      await ok("badpw", [
        "--smtp-port",
        String(submission),
        "--secret-file",
        join(root, "bad"),
        "--ca-file",
        cert,
      ]);
      await ok("noca", [
        "--smtp-port",
        String(smtps),
        "--smtp-security",
        "tls",
        "--secret-file",
        join(root, "pw"),
      ]);
      await ok("plain", [
        "--smtp-port",
        String(submission),
        "--smtp-security",
        "none",
        "--secret-file",
        join(root, "pw"),
      ]);
      for (const name of ["starttls", "tls"]) {
        const r = await cli(home, ["alerts", "channels", "test", name]);
        assert.equal(r.code, 0, `${name}: ${r.stderr}`);
      }
      const inbox = async (dir: string) => {
        try {
          return await Array.fromAsync(Deno.readDir(join(root, dir, "new")));
        } catch {
          return [];
        }
      };
      await until(
        async () => (await inbox("mail587")).length === 1 && (await inbox("mail465")).length === 1,
        "both mails",
        10_000,
      );
      const mail = await Deno.readTextFile(
        join(root, "mail587", "new", (await inbox("mail587"))[0].name),
      );
      assert.match(mail, /^Subject: \[TEST\] miner-cli alerts from boss/m);
      assert.match(mail, /^To: ops@example\.com, night@example\.com/m);
      const fail = async (name: string, re: RegExp) => {
        const r = await cli(home, ["alerts", "channels", "test", name]);
        assert.equal(r.code, 1, name);
        assert.match(r.stderr, re, name);
      };
      await fail("badpw", /535 5\.7\.8 Authentication credentials invalid/);
      await fail("noca", /self-signed certificate/);
      await fail("plain", /STARTTLS/);
      // The password is stored (0600) and never shown.
      const listed = (await cli(home, ["alerts", "channels", "list", "--json"])).stdout;
      assert.ok(!listed.includes("s3cret-pw"), "password masked");
      assert.match(listed, /"password": "\*\*\*"/);
    } finally {
      for (const p of procs) {
        try {
          p.kill("SIGTERM");
        } catch { /* gone */ }
        await p.status;
      }
      await Deno.remove(root, { recursive: true });
    }
  },
});
