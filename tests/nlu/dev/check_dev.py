import json, re, collections, glob, os, itertools
D=os.path.dirname(os.path.abspath(__file__))
SUBS={"funding":"grants bid_writing fundraising_events online_giving gift_aid legacies sponsorship trading contracts crowdfunding".split(),
"governance":"trustees governing_document legal_structure registering agm annual_return policies conflicts_of_interest mergers_closing".split(),
"volunteering":"recruiting managing retaining expenses checks policies young_volunteers insurance finding_opportunities".split()}
INTENTS=set(SUBS)|{"request_human","other_enquiry","out_of_scope","report_risk"}
MIN={"topics":210,"person":80,"other_enquiry":70,"off_topic":100,"risk":70,"safety_nonurgent":70}
data={}; errs=[]
for f in MIN:
    rows=[]
    for i,l in enumerate(open(f"{D}/{f}.jsonl",encoding="utf-8"),1):
        r=json.loads(l)
        if set(r)!={"text","intent","subtopic","person","urgent"}: errs.append((f,i,"keys"))
        if r["intent"] not in INTENTS: errs.append((f,i,"intent"))
        if r["intent"] in SUBS:
            if r["subtopic"] not in SUBS[r["intent"]]: errs.append((f,i,"subtopic"))
        elif r["subtopic"] is not None: errs.append((f,i,"subtopic not null"))
        if not isinstance(r["person"],bool) or not isinstance(r["urgent"],bool): errs.append((f,i,"bool"))
        if not r["text"].strip(): errs.append((f,i,"empty"))
        rows.append(r)
    data[f]=rows
    if len(rows)<MIN[f]: errs.append((f,"count",len(rows)))
t=data["topics"]
assert all(r["intent"] in SUBS and not r["person"] and not r["urgent"] for r in t)
sc=collections.Counter((r["intent"],r["subtopic"]) for r in t)
for i,ss in SUBS.items():
    for s in ss:
        if sc[(i,s)]<5: errs.append(("topics","subtopic<5",i,s,sc[(i,s)]))
ic=collections.Counter(r["intent"] for r in t); print("topics per intent",dict(ic))
wou=re.compile(r"\b(we|our|us|we're|we've|we'd|we'll|ours)\b",re.I)
nw=sum(1 for r in t if not wou.search(r["text"])); print(f"topics without we/our/us: {nw}/{len(t)} = {nw/len(t):.0%}")
if nw/len(t)<0.4: errs.append(("topics","we/our ratio"))
p=data["person"]; alone=sum(r["intent"]=="request_human" for r in p); print("person alone",alone,"in-topic",len(p)-alone)
assert all(r["person"] and not r["urgent"] for r in p)
assert all(r["intent"]=="other_enquiry" for r in data["other_enquiry"])
o=data["off_topic"]; assert all(r["intent"]=="out_of_scope" for r in o)
print("off_topic we/our",sum(1 for r in o if wou.search(r["text"])),"long",sum(1 for r in o if len(r["text"].split())>=25))
assert all(r["intent"]=="report_risk" and r["urgent"] and r["person"] for r in data["risk"])
assert all(not r["urgent"] for r in data["safety_nonurgent"])
norm=lambda s:re.sub(r"\s+"," ",s.lower()).strip()
allrows=[(f,r["text"]) for f in data for r in data[f]]
c=collections.Counter(norm(x) for _,x in allrows)
d=[k for k,v in c.items() if v>1]
if d: errs.append(("dupes",d))
# near-duplicate report
tok=lambda s:set(re.findall(r"[a-z']+",s.lower()))
toks=[(f,x,tok(x)) for f,x in allrows]
for a,b in itertools.combinations(toks,2):
    if len(a[2])>3 and len(b[2])>3:
        j=len(a[2]&b[2])/len(a[2]|b[2])
        if j>0.6: print("NEAR",round(j,2),a[1],"|",b[1])
for f in data: print(f,len(data[f]),dict(collections.Counter(r["intent"] for r in data[f])))
print("ERRORS",errs if errs else "none")
