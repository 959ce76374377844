#!/usr/bin/python3
"""A scripted XMPP client built on slixmpp, for parleyd's interoperability tests.

It logs in to a server on loopback, verifying the server's certificate against the CA file given
with --ca (slixmpp checks the chain and the name: the JID's domain), runs the STEPS given on the
command line in order, prints one line for everything it sees, and exits:

  0  every step succeeded
  1  a step failed or timed out (the last line says which and why)
  2  the connection or the login failed (certificate refused, wrong password, ...)

Steps (each a verb followed by a fixed number of arguments):

  presence                  send initial presence (offline messages arrive after this)
  unavailable               send unavailable presence
  roster-get                print "roster jid=J subscription=S ask=A name=N" per item, then
                            "roster-end count=N"
  roster-add JID NAME       add or update a roster item
  subscribe JID             send a subscription request
  approve JID               approve JID's subscription request (type='subscribed')
  send JID TEXT             send a chat message
  wait TEXT                 wait until a line containing TEXT has been printed (since the start)
  join ROOM NICK            join a MUC room (XEP-0045) with up to 20 history messages; prints
                            "joined room=R nick=N occupants=A,B" and one "history ..." line per
                            history message
  groupchat ROOM TEXT       send a groupchat message to ROOM
  mam JID                   query the own archive (XEP-0313) for the conversation with JID:
                            "mam from=F body=B" per message, then "mam-end count=N"
  sleep SECONDS             wait (to let another peer get ahead)

Lines printed for what arrives (the tests look for these):

  connected tls=TLSv1.3 jid=FULLJID
  message from=F type=T delay=STAMP|no body=B
  groupchat from=ROOM/NICK delay=STAMP|no body=B
  occupant from=ROOM/NICK type=available|unavailable codes=110,201|none
  presence from=F type=available|unavailable
  subscribe-request from=F
  subscribed from=F
  roster-push jid=J subscription=S ask=A

With --default-mechanisms the peer logs in the way slixmpp does out of the box (poezio, for one):
its own mechanism order and channel binding choice, falling back to the next mechanism after each
refusal. It then prints "auth-refused mechanism=M condition=C" per refusal and
"authenticated mechanism=M" at the end, and gives up only when every mechanism was refused.

What it does not do: accept an unverified certificate (there is no option for it), register
accounts, or keep running after its steps (it disconnects at the end).
"""
import argparse
import asyncio
import logging
import sys

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout, PresenceError

STEP_ARITY = {
    "presence": 0,
    "unavailable": 0,
    "roster-get": 0,
    "roster-add": 2,
    "subscribe": 1,
    "approve": 1,
    "send": 2,
    "wait": 1,
    "join": 2,
    "groupchat": 2,
    "mam": 1,
    "sleep": 1,
}


class StepFailed(Exception):
    pass


def parse_steps(words):
    steps = []
    position = 0
    while position < len(words):
        verb = words[position]
        if verb not in STEP_ARITY:
            raise SystemExit(f"unknown step {verb!r}")
        arity = STEP_ARITY[verb]
        arguments = words[position + 1:position + 1 + arity]
        if len(arguments) != arity:
            raise SystemExit(f"step {verb} takes {arity} argument(s)")
        steps.append((verb, arguments))
        position += 1 + arity
    return steps


def one_line(text):
    return " ".join(str(text).split())


def delay_of(stanza):
    delay = stanza.get_plugin("delay", check=True)
    if delay is None or not delay["stamp"]:
        return "no"
    return delay["stamp"].strftime("%Y-%m-%dT%H:%M:%SZ")


class ScriptedPeer(slixmpp.ClientXMPP):
    def __init__(self, jid, password, steps, step_timeout, default_mechanisms=False):
        super().__init__(jid, password)
        self.default_mechanisms = default_mechanisms
        self.steps = steps
        self.step_timeout = step_timeout
        self.lines = []
        self.line_added = asyncio.Event()
        self.exit_code = 2  # until the session starts
        # Subscription requests are answered by the script, never automatically.
        self.roster.auto_authorize = None
        self.roster.auto_subscribe = False
        if not default_mechanisms:
            self.refuse_channel_binding()
        for plugin in ("xep_0030", "xep_0045", "xep_0059", "xep_0199", "xep_0203", "xep_0297",
                       "xep_0313"):
            self.register_plugin(plugin)
        self.add_event_handler("session_start", self.on_session_start)
        self.add_event_handler("message", self.on_message)
        self.add_event_handler("groupchat_message", self.on_groupchat)
        self.add_event_handler("groupchat_presence", self.on_occupant)
        self.add_event_handler("presence_available", self.on_available)
        self.add_event_handler("presence_unavailable", self.on_unavailable)
        self.add_event_handler("presence_subscribe", self.on_subscribe)
        self.add_event_handler("presence_subscribed", self.on_subscribed)
        self.add_event_handler("roster_update", self.on_roster_update)
        self.add_event_handler("failed_auth", self.on_failed_auth)
        if default_mechanisms:
            self.add_event_handler("failed_all_auth", self.on_failed_all_auth)
        self.add_event_handler("auth_success", self.on_auth_success)
        self.add_event_handler("ssl_invalid_chain", self.on_invalid_chain)
        self.add_event_handler("connection_failed", self.on_connection_failed)
        self.add_event_handler("disconnected", self.on_disconnected)

    def refuse_channel_binding(self):
        """SCRAM without channel binding ('n' in the GS2 header).

        slixmpp 1.8 binds SCRAM-*-PLUS to 'tls-unique', which TLS 1.3 does not have (RFC 9266),
        and otherwise sends 'y' ("I could bind, the server cannot"). parleyd offers -PLUS with
        tls-exporter and tls-server-end-point (XEP-0440), so it refuses both, rightly: the first
        names a binding it does not support, the second is what a downgrade looks like
        (RFC 5802 6). A client without a usable binding says 'n', which this does.
        """
        mechanisms = self.plugin["feature_mechanisms"]
        default_credentials = mechanisms.sasl_callback

        def credentials_without_binding(required, optional):
            return default_credentials(required, set(optional) - {"channel_binding"})

        mechanisms.sasl_callback = credentials_without_binding
        mechanisms.use_mechs = {"SCRAM-SHA-256", "SCRAM-SHA-1"}

    def emit(self, line):
        self.lines.append(line)
        print(line, flush=True)
        self.line_added.set()

    # ----- what arrives ---------------------------------------------------------------------

    def on_message(self, message):
        if message["type"] in ("chat", "normal") and message["body"]:
            self.emit(f"message from={message['from']} type={message['type']} "
                      f"delay={delay_of(message)} body={one_line(message['body'])}")

    def on_groupchat(self, message):
        if message["body"]:
            self.emit(f"groupchat from={message['from']} delay={delay_of(message)} "
                      f"body={one_line(message['body'])}")

    def on_occupant(self, presence):
        kind = "unavailable" if presence["type"] == "unavailable" else "available"
        codes = ",".join(sorted(str(code) for code in presence["muc"]["status_codes"])) or "none"
        self.emit(f"occupant from={presence['from']} type={kind} codes={codes}")

    def on_available(self, presence):
        self.emit(f"presence from={presence['from']} type=available")

    def on_unavailable(self, presence):
        self.emit(f"presence from={presence['from']} type=unavailable")

    def on_subscribe(self, presence):
        self.emit(f"subscribe-request from={presence['from']}")

    def on_subscribed(self, presence):
        self.emit(f"subscribed from={presence['from']}")

    def on_roster_update(self, iq):
        if iq["type"] != "set":
            return  # the answer to roster-get, printed by that step
        for jid, item in iq["roster"]["items"].items():
            self.emit(f"roster-push jid={jid} subscription={item['subscription']} "
                      f"ask={item['ask'] or 'none'}")

    def current_mechanism(self):
        mechanism = self.plugin["feature_mechanisms"].mech
        return mechanism.name if mechanism is not None else "none"

    def on_failed_auth(self, failure):
        if self.default_mechanisms:
            # slixmpp tries its next mechanism after this event: let it.
            self.emit(f"auth-refused mechanism={self.current_mechanism()} "
                      f"condition={failure['condition']}")
            return
        self.give_up(2, "error authentication failed")

    def on_failed_all_auth(self, _event):
        self.give_up(2, "error authentication failed")

    def on_auth_success(self, _event):
        self.emit(f"authenticated mechanism={self.current_mechanism()}")

    def on_invalid_chain(self, error):
        self.give_up(2, f"error certificate refused: {one_line(error)}")

    def on_connection_failed(self, error):
        self.give_up(2, f"error connection failed: {one_line(error)}")

    def on_disconnected(self, _event):
        self.loop.stop()

    def give_up(self, exit_code, line):
        """Ends the run at once: no reconnection attempts, no waiting for the server."""
        self.emit(line)
        if self.exit_code != 0:
            self.exit_code = exit_code
        self.abort()
        self.loop.call_soon(self.loop.stop)

    # ----- the script -------------------------------------------------------------------------

    async def on_session_start(self, _event):
        ssl_object = self.transport.get_extra_info("ssl_object") if self.transport else None
        version = ssl_object.version() if ssl_object is not None else "none"
        self.emit(f"connected tls={version} jid={self.boundjid.full}")
        self.exit_code = 1
        try:
            for number, (verb, arguments) in enumerate(self.steps, start=1):
                await asyncio.wait_for(self.run_step(verb, arguments), self.step_timeout)
                self.emit(f"step {number} {verb} ok")
            self.exit_code = 0
            self.emit("done")
        except asyncio.TimeoutError:
            self.emit(f"FAIL step {number} {verb} {' '.join(arguments)}: timed out after "
                      f"{self.step_timeout} s")
        except (StepFailed, IqError, IqTimeout, PresenceError) as error:
            self.emit(f"FAIL step {number} {verb} {' '.join(arguments)}: {one_line(error)}")
        # Let the server see our unavailable presence and close the stream properly.
        self.disconnect(wait=2.0)

    async def run_step(self, verb, arguments):
        if verb == "presence":
            self.send_presence()
        elif verb == "unavailable":
            self.send_presence(ptype="unavailable")
        elif verb == "roster-get":
            # Without 'ver': slixmpp's own get_roster sends the version it has, and then the
            # answer is empty when nothing changed (RFC 6121 2.6.3).
            request = self.Iq()
            request["type"] = "get"
            request.enable("roster")
            result = await request.send()
            items = result["roster"]["items"]
            for jid, item in items.items():
                self.emit(f"roster jid={jid} subscription={item['subscription']} "
                          f"ask={item['ask'] or 'none'} name={item['name']}")
            self.emit(f"roster-end count={len(items)}")
        elif verb == "roster-add":
            await self.update_roster(slixmpp.JID(arguments[0]), name=arguments[1])
        elif verb == "subscribe":
            self.send_presence_subscription(pto=arguments[0], ptype="subscribe")
        elif verb == "approve":
            self.send_presence_subscription(pto=arguments[0], ptype="subscribed")
        elif verb == "send":
            self.send_message(mto=arguments[0], mbody=arguments[1], mtype="chat")
        elif verb == "wait":
            await self.wait_for_line(arguments[0])
        elif verb == "join":
            await self.join(slixmpp.JID(arguments[0]), arguments[1])
        elif verb == "groupchat":
            self.send_message(mto=arguments[0], mbody=arguments[1], mtype="groupchat")
        elif verb == "mam":
            await self.query_archive(slixmpp.JID(arguments[0]))
        elif verb == "sleep":
            await asyncio.sleep(float(arguments[0]))

    async def wait_for_line(self, text):
        while not any(text in line for line in self.lines):
            self.line_added.clear()
            await self.line_added.wait()

    async def join(self, room, nick):
        presence, _subject, occupants, history = await self.plugin["xep_0045"].join_muc_wait(
            room, nick, maxstanzas=20, timeout=self.step_timeout)
        if presence["type"] == "error":
            raise StepFailed(f"join refused: {presence['error']['condition']}")
        names = ",".join(sorted(str(p["from"].resource) for p in occupants))
        self.emit(f"joined room={room} nick={presence['from'].resource} occupants={names}")
        for message in history:
            self.emit(f"history from={message['from']} delay={delay_of(message)} "
                      f"body={one_line(message['body'])}")

    async def query_archive(self, with_jid):
        result = await self.plugin["xep_0313"].retrieve(with_jid=with_jid,
                                                        timeout=self.step_timeout)
        messages = result["mam"]["results"]
        for entry in messages:
            forwarded = entry["mam_result"]["forwarded"]
            original = forwarded["stanza"]
            self.emit(f"mam from={original['from'].bare} delay={delay_of(forwarded)} "
                      f"body={one_line(original['body'])}")
        self.emit(f"mam-end count={len(messages)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jid", required=True, help="bare JID; the resource is 'slixmpp'")
    parser.add_argument("--password", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ca", required=True, help="PEM file of the CA that must sign the server")
    parser.add_argument("--direct-tls", action="store_true", help="XEP-0368 TLS from the start")
    parser.add_argument("--step-timeout", type=float, default=15.0)
    parser.add_argument("--debug", action="store_true", help="slixmpp's stanza log on stderr")
    parser.add_argument("--default-mechanisms", action="store_true",
                        help="slixmpp's own SASL mechanism order and channel binding choice")
    parser.add_argument("steps", nargs=argparse.REMAINDER)
    options = parser.parse_args()
    logging.basicConfig(level=logging.DEBUG if options.debug else logging.ERROR,
                        format="%(levelname)s %(message)s", stream=sys.stderr)

    peer = ScriptedPeer(options.jid + "/slixmpp", options.password, parse_steps(options.steps),
                        options.step_timeout, options.default_mechanisms)
    peer.ca_certs = options.ca  # verification stays on: chain to this CA, name = JID's domain
    # Whatever the server offers, never authenticate without TLS.
    peer.connect((options.host, options.port), use_ssl=options.direct_tls,
                 force_starttls=not options.direct_tls, disable_starttls=False)
    # A whole-run bound so that a peer that never gets a session cannot hang the test.
    budget = options.step_timeout * (len(peer.steps) + 2)
    peer.loop.call_later(budget, peer.give_up, 1, f"FAIL no progress within {budget} s")
    peer.loop.run_forever()
    return peer.exit_code


if __name__ == "__main__":
    sys.exit(main())
