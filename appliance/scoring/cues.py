"""Lexical cues of a behavioural answer, in English and Chinese.

Each pattern names a cue (the `cue` of an evidence span). STAR parts come from phrases that
people use to set a scene (situation), name a goal (task), report what they did (action) and
what came of it (result); ownership from who acts (I / 我 vs we / 我们); specificity from
numbers, names and time frames; vagueness from habitual or hypothetical talk ("I would...").
"""

# Chinese text uses full-width punctuation on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

import re
from dataclasses import dataclass, field

from appliance.scoring.text import zh_tokens

STAR_PARTS = ("situation", "task", "action", "result")


def _rx(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


# Spelled-out numbers as people say them ("three hundred and forty", "twenty-five", "a dozen").
_EN_NUMBER_WORD = (
    r"(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
    r"fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|"
    r"eighty|ninety|hundred|thousand|million|billion|dozen|half|a hundred|a thousand|"
    r"a couple of|a few hundred)"
)
EN_NUMBER = rf"(?:\d+(?:[.,]\d+)?|{_EN_NUMBER_WORD}(?:[\s-]+(?:and\s+)?{_EN_NUMBER_WORD})*)"
_EN_UNIT = (
    r"(?:%|percent|per cent|x\b|times\b|hours?\b|days?\b|weeks?\b|months?\b|minutes?\b|"
    r"seconds?\b|ms\b|milliseconds\b|k\b|m\b|million|thousand|grand|bucks|dollars|euros|"
    r"pounds|yuan|customers|users|clients|people|points|deals|accounts|units|defects|incidents|"
    r"tickets|orders|percentage points|hires|engineers|stores|shifts|pieces|parts|calls|"
    r"complaints|patients|cases|claims|errors|staff|members|students|beds|trucks|shipments|"
    r"applications|files|reports|requests|items|products|transactions|visits|sales|leads)"
)
# Outcomes that say the actions failed: a result, but never a quantified success.
EN_FAILURE = re.compile(
    r"\b(we|i|they) (lost|missed|failed|didn't (make|get|hit|win|work)|did not (make|get|hit|"
    r"win|work)|never (got|made|recovered))\b|\b(it|that|this) (didn't|did not|never) work|"
    r"\b(was|were) (cancelled|canceled|rejected|a failure|a disaster)\b",
    re.IGNORECASE,
)

_EN_STATE_VERBS = (
    "joined|worked|wanted|needed|liked|loved|hoped|noticed|seemed|used|lived|moved|started at"
)
_EN_IRREGULAR = (
    "built|wrote|ran|made|set|led|took|met|spoke|brought|began|chose|drew|found|gave|got|held|"
    "kept|sent|sat|spent|taught|told|went|did|put|broke|drove|rewrote|rebuilt|paid|bought|sold|"
    "sought|fought|won|dug|hid|shut|split|cut|read|rang|flew|threw|hired|fired|stood|wrote up"
)

EN_SITUATION = _rx(
    r"\bwhen i (was|joined|worked|started|took over|moved|became|arrived)\b",
    r"\bone of (my|our) (biggest|largest|key|main|most important|best)\b",
    r"\b(told|informed|warned) (me|us) (that|they)\b",
    r"\b(our|the|my) [a-z]+ (was|were) (convinced|worried|unhappy|concerned|losing|struggling|"
    r"behind|failing|stuck|shrinking|declining|slipping|about to)\b",
    r"\b(a|the|our|one) (supplier|vendor|customer|client|competitor|machine|prospect|partner)"
    r" (delivered|sent|broke|failed|announced|complained|cancelled|threatened|was)\b",
    r"\bat my (previous|last|former|current|first) (job|company|role|employer|team|position)\b",
    r"\b(last|this|that|one|the previous) (year|quarter|month|spring|summer|autumn|fall|winter)\b",
    r"\bin (early |late |mid-?)?(19|20)\d\d\b",
    r"\bback (then|in)\b",
    r"\bat the time\b",
    r"\bthe (situation|context|background)\b",
    r"\b(we|our team|the team|the company|our company|the client|a client|a customer|the "
    r"customer|the project|our product|the plant|the line|the factory|the business|our "
    r"department|the department|sales|revenue|the system|our system|the service|two teams|"
    r"the board|the market|the release|our biggest client|a key customer)"
    r" (was|were|had|faced|needed|struggled|lost|kept|missed|got)\b",
    r"\bthere (was|were)\b",
    r"\bwhile (working|i was|we were)\b",
    r"\b(i|we) (faced|inherited|noticed|discovered|found out)\b",
    r"\bthe (problem|issue|challenge) was\b",
    r"\bi (worked|was working) (at|for|on|as)\b",
    r"\b(a few|two|three|several) (years|months|weeks) ago\b",
    r"\bonce,",
)
EN_TASK = _rx(
    r"\bmy (task|job|goal|role|responsibility|assignment|mandate|mission|target|brief)"
    r" (was|became|were)\b",
    r"\bi was (asked|responsible|tasked|assigned|charged|expected|supposed|hired|brought in|"
    r"put in charge|given|chosen|appointed)\b",
    r"\b(the|our|my) (goal|target|objective|aim|task|mandate|brief|quota) (was|"
    r"were|became)\b",
    r"\bi (had|needed) to\b",
    r"\bi (owned|took ownership of|was in charge of|volunteered to|agreed to)\b",
    r"\bresponsible for\b",
    r"\bin charge of\b",
    r"\b(my manager|my boss|the director|the ceo|the vp|leadership|the board) "
    r"(asked|wanted|needed|told) (me|us)\b",
    r"\bi wanted to\b",
    r"\bwe (needed|had) to\b",
    r"\bit was (up to me|my job)\b",
    # Spoken ways of taking a task on or having it handed over.
    r"\b(it|that|this) was (mine|my call|my problem|on me|my responsibility)\b",
    r"\bi (offered|volunteered|stepped up|took it on|took on|took over|took charge|picked it up|"
    r"said i'd|said i would)\b",
    r"\b(gave|handed|assigned|passed|dumped|left) (it|this|that|the [a-z]+) (to|on) me\b",
    r"\b(asked|told|wanted|needed|got|made) me (to|lead|run|own|sort|fix|look)\b",
    r"\bi (set|had|gave) (a|the|myself a|myself the|us a|the team a) (clear |simple |hard )?"
    r"(goal|target|deadline|aim|objective)\b",
    r"\bi was (made|appointed|named|acting|the acting|the on-call|on call|on-call|the lead|"
    r"head of|the head|charge nurse|the charge|the only|the owner|the point person|the duty)\b",
    r"\b(the|my) (brief|ask|plan) was\b",
    r"\bi was (the|a|an) ([a-z-]+ ){0,3}(manager|lead|leader|head|nurse|planner|supervisor|"
    r"assistant|coordinator|officer|analyst|engineer|developer|teacher|owner|director|partner|"
    r"paralegal|clerk|agent|advisor|adviser|controller|accountant|auditor|consultant|rep)\b",
)
EN_ACTION_OWN = _rx(
    r"(?<!if )\bi (first |then |also |personally |immediately |quickly |carefully |next |"
    r"finally )?"
    rf"(?!(?:{_EN_STATE_VERBS})\b)([a-z]+ed|{_EN_IRREGULAR})\b",
    rf"\b(so|then|first|next|afterwards|after that|finally),? i "
    rf"(?!(?:{_EN_STATE_VERBS})\b)([a-z]+ed|{_EN_IRREGULAR})\b",
    r"\bi (decided|started|began|chose|made sure|reached out|sat down|set up|pushed|spent|"
    r"proposed|suggested|convinced|persuaded|negotiated|interviewed|mapped|wrote|built|called|"
    r"organi[sz]ed|scheduled|ran|drafted|prototyped|asked)\b",
)
EN_ACTION_TEAM = _rx(
    rf"\bwe (first |then |also |quickly |finally )?"
    rf"(?!(?:{_EN_STATE_VERBS}|needed|had)\b)([a-z]+ed|{_EN_IRREGULAR})\b",
    r"\b(the team|my team) (built|ran|decided|worked|implemented|changed|fixed|delivered)\b",
)
EN_RESULT = _rx(
    r"\bas a result\b",
    r"\bresult(ed)? in\b",
    r"\bthe (result|outcome|impact|effect) (was|were)\b",
    r"\bin the end\b",
    r"\b(eventually|ultimately|in the end|at the end(?! of the day))\b",
    r"\b(increased|reduced|decreased|improved|saved|grew|raised|boosted|doubled|tripled|"
    r"halved|dropped|fell|rose|shortened|lowered|cut down|went (up|down) from)\b",
    r"\b(led|leading) to\b",
    r"\bby the end of\b",
    r"\b(we|i|the team) (won|closed|shipped|launched|delivered|hit|exceeded|beat|achieved|"
    r"signed|renewed|passed|finished|completed|recovered|retained|kept the)\b",
    r"\b(since then|from then on|to this day|ever since)\b",
    r"\b(that|this|which|it) (brought|helped|gave|got|saved|won|cut|raised|made the)\b",
    r"\b(deals?|contracts?|orders?) (closed|signed|came in)\b",
    r"\b(signed|renewed|extended) (a|the|an|for)\b",
    r"\b(was|were|got) promoted\b",
    r"\bfeedback was (very )?(positive|good|great|excellent)\b",
    rf"\bwithin (?:a|{EN_NUMBER}) (days?|weeks?|months?|years?)\b,? (?!i |we |to )",
    rf"\b(went|dropped|fell|rose|grew|came down|got it down|got it up|brought it down) "
    rf"(from )?{EN_NUMBER}",
    rf"\bfrom (about |around |like |roughly )?{EN_NUMBER}\S* (\S+ )?(down |up )?to "
    rf"(about |around |like |roughly |under |below |over )?{EN_NUMBER}",
    r"\b(stopped|disappeared|went away|went to zero|dried up|never came back|cleared)\b",
    r"\b(went|came|got) (down|up) (a lot|loads|massively|a bit|a fair bit|significantly|"
    r"noticeably|sharply|quite a bit)\b",
    r"\b(things|it|that|everything) (was|were|got|became) (noticeably |much |a lot |way )?"
    r"(better|calmer|easier|smoother|faster|quieter)\b",
    rf"\b(went|came|got|dropped|fell|rose|grew|climbed|shot) (up |down |back )?(from |to )?"
    rf"(about |around |roughly |like |under |over |below )?{EN_NUMBER}",
    r"\b(now|these days) (it|that|this|we|they|the [a-z]+) ?('s|is|are|takes|take|runs?|gets?|"
    r"have|has|only)\b",
    r"\b(it|that|things|this)( has|'s| have| is)? (been )?(a lot |much |way |far |a bit )?"
    r"(fine|better|good|great|smooth|smoother|stable|quiet|calmer|easier|faster)"
    r"( ever)? (since|now)\b",
    r"\b(haven't|have not|hasn't|has not|never) (had|happened|come back|seen|missed)\b",
    r"\b(zero|no) (timeouts|errors|complaints|incidents|escalations|defects|outages|missed|"
    r"injuries|falls|breaches|findings|downtime|returns|delays)\b",
    r"\b(left|gave|wrote|sent) (us |me |the [a-z]+ )?(a |an )?([a-z-]+ )?(review|card|thank|"
    r"note|email|letter|compliment)",
    r"\bi (learned|learnt|realised|realized) (that|how|to)\b",
    r"\bwhich meant\b",
    r"\bthe (client|customer|team|management|board|plant|auditor)s? (renewed|signed|"
    r"praised|agreed|adopted|approved|accepted|stayed|came back)\b",
    r"\b(on time|under budget|ahead of schedule|on schedule|before the deadline)\b",
    r"\b(zero|no more) (defects|incidents|complaints|outages|injuries|escalations)\b",
    r"\b(is|are|was) (still )?(used|running|in use) (today|now|across)\b",
    r"\bbecame the (standard|default|template)\b",
)
EN_QUANTIFIED = _rx(
    rf"\b{EN_NUMBER}\s?(?:[a-z-]+ )?{_EN_UNIT}",
    r"[$€£¥]\s?\d",
    r"\b(doubled|tripled|halved|quadrupled)\b",
    rf"\bfrom (about |around |like |roughly )?{EN_NUMBER}\S* (\S+ )?(down |up )?to "
    rf"(about |around |like |roughly |under |below |over )?{EN_NUMBER}",
)
EN_SPECIFIC = _rx(
    r"\b\d+(?:[.,]\d+)?\b",
    rf"\b{_EN_NUMBER_WORD}(?:[\s-]+(?:and\s+)?{_EN_NUMBER_WORD})* {_EN_UNIT}",
    r"\b(january|february|march|april|may|june|july|august|september|october|november|"
    r"december|monday|tuesday|wednesday|thursday|friday)\b",
    rf"\b(within|over|in|for|after) (a|{EN_NUMBER}) "
    r"(days?|weeks?|months?|quarters?|years?|hours?|sprints?)\b",
    r"\b(last|next|that) (quarter|sprint|week|month|year|spring|summer|autumn|winter)\b",
)
# Capitalised words inside a sentence: product, company, tool and place names.
EN_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-zA-Z0-9]+(?:[A-Z][a-z0-9]+)*|[A-Z]{2,})\b")
EN_NOT_NAMES = frozenset(
    {"I", "I'm", "I'd", "I've", "OK", "Okay", "So", "Then", "And", "But", "We", "The", "It"}
)
EN_VAGUE = _rx(
    r"\b(always|usually|generally|normally|typically|often|sometimes|whenever)\b",
    r"\b(things|stuff|something|somehow|various|everything|anything)\b",
    r"\b(kind of|sort of|basically|a lot of|lots of|some sort)\b",
    rf"\bi would\b|\b(i|we)[’']d (?!(?:been|had|done|gone|seen|taken|given|written|spoken|"
    rf"known|become|grown|run|[a-z]+ed|{_EN_IRREGULAR})\b)|\bi will\b|\bi[’']ll\b|"
    r"\bwe would\b",
    r"\byou (would|should|need to|have to|can|could|try)\b",
    r"\b(in general|i think|i believe|i guess|probably|maybe|perhaps|i try to|i like to|"
    r"i tend to|i prefer to|if there is|if there's|if i)\b",
)
# What the answer would do, or does as a habit, instead of what it did.
EN_HYPOTHETICAL = _rx(
    rf"\b(i|we) would\b|\b(i|we)[’']d (?!(?:been|had|done|gone|seen|taken|given|written|"
    rf"spoken|known|become|grown|run|[a-z]+ed|{_EN_IRREGULAR})\b)|\b(i|we) will\b|\b(i|we)[’']ll\b",
    r"\bif i (was|were|had|got|saw|found|ever)\b|\bif (that|this|it) (happened|happens)\b",
    r"\byou (would|should|need to|have to|want to|gotta)\b",
)
EN_HABIT = _rx(
    r"\b(i|we) (always|usually|generally|normally|typically|often|tend to|try to|like to)\b",
    r"\b(whenever|every time)\b",
)
# Reflection: what the candidate took from it and does differently now.
EN_REFLECTION = _rx(
    r"\bi (learned|learnt|realised|realized|took away|understood)\b",
    r"\b(the|my|a|big|biggest|key|main) (lesson|takeaway|learning)\b",
    r"\blooking back\b|\bin hindsight\b|\bif i did it again\b|\bnext time\b",
    r"\b(since then|from then on|ever since|these days|now) i (always|never|make sure|"
    r"check|ask|start|do|try|write|build|plan)\b",
    r"\bchanged (how|the way) i\b",
    r"\bi (never|always|now) [a-z' ]{2,40}(anymore|any more|now|these days|since)\b",
)
# A lasting effect carried by others: something that outlived the story.
EN_LASTING = _rx(
    r"\b(is|are|was|were|it's) (still |now |now still )?(used|running|in use|in place|standard|"
    r"the standard|taught)\b",
    r"\b(became|becomes|is now|is still) (in |the |a |our |part of )*(standard|default|template|"
    r"policy|process|practice|playbook|checklist|onboarding|training|[a-z']+ (plan|policy|"
    r"handbook|manual|procedure|guidance))\b",
    r"\b(other|all the|the other|three other|two other|every) (teams?|branches|departments|"
    r"sites|wards|stores|regions|offices|hospitals|plants|schools) (now |also |then )?"
    r"(use|adopted|copied|follow|picked|rolled|took)\b",
    r"\brolled (it )?out (to|across)\b|\b(adopted|copied) (by|across)\b",
    r"\b(to this day|still today|today they still|they still use)\b",
)
EN_I = re.compile(r"\b(i|i'm|i've|i'd|me|my|myself)\b", re.IGNORECASE)
EN_I_SUBJECT = re.compile(r"\bi\b", re.IGNORECASE)
EN_WE_SUBJECT = re.compile(r"\b(we|the team|my team|our team|everyone)\b", re.IGNORECASE)

ZH_SITUATION = _rx(
    r"当时|那时|那时候|去年|前年|上个月|上半年|下半年|有一次|之前在|以前在|在上一家|上家公司",
    r"上个?季度|上个?星期|上个?礼拜|上周|那周|那天|那个月|那阵子|前两年|前几年|有段时间",
    r"在.{0,12}(公司|团队|项目|工厂|车间|部门|门店|产线|银行)(的时候|时|里|期间|工作)",
    r"那几年|那段时间|那一年|第一年|刚做|刚开始|连续.{0,6}(没|未)",
    r"[零〇一二三四五六七八九]{4}年",
    r"(19|20)\d\d年",
    r"刚(加入|入职|接手|来到|到)",
    r"(遇到|面临|出现)了?",
    r"背景是|情况是|问题是",
    r"(我们|公司|团队|部门|客户|项目|系统|产线|工厂|车间|业绩|销量)(当时|一直|经常|总是)",
    r"(客户|项目|系统|产品|产线|工厂|车间|团队|部门)(出了|出现|遇到|面临|丢了|流失|延期|落后)",
)
ZH_TASK = _rx(
    r"我的(任务|职责|工作|目标|角色)(是|就是)",
    r"我负责|由我负责|交给我|让我(来)?负责|要求我|需要我|安排我|指派我|任命我",
    r"(领导|经理|老板|总监|公司|上级)(让我|要求我|希望我|交给我|派我)",
    r"(目标|任务|指标|要求|期限|挑战)(是|就是)",
    r"我想(验证|知道|弄清|搞清|找到|解决|提升|降低|证明|试试)",
    r"让我(牵头|来|负责|去|主导|带)|我(主要)?负责|我(主动)?(提出|承担|接下|揽下|接手|请缨|报名)",
    r"(定了?|设了?|订了?|立了?)(个|一个)?(目标|指标|期限)|我就想(能不能|怎么|要)",
    r"我是.{0,14}(组长|负责人|经理|主管|护士长|班长|主任|值班|带教|牵头人|联络员)",
    r"(成了|当了|担任).{0,8}(组长|负责人|联络员|牵头人|小老师)",
    r"我(之前|以前|当时|那时)?(在.{0,12})?(做|当|是)了?.{0,6}(经理|主管|组长|护士|老师|班主任|负责人|专员|柜员|工程师|律师|助理)",
    r"我(需要|必须|得)(在|把|让|解决|完成|提升|降低)",
    r"我们(需要|必须|得)",
)
ZH_ACTION_OWN = _rx(
    r"我(首先|先|然后|接着|随后|马上|立即|立刻|主动|亲自|还|又|就|便|于是|最后)?"
    r"(决定|组织|带领|设计|编写|写了|搭建|建立|推动|协调|安排|制定|分析|联系|约了|召集|"
    r"提出|引入|开发|重写|优化|整理|拜访|培训|跟进|说服|梳理|拆分|调整|找了|做了|用了|"
    r"重新|把|和|跟|给|花了|逐一|一一|写|做|改|开了|发起|牵头|主导|谈|沟通|访谈|开始|看了|查了|"
    r"复盘|排查|定位|测试|上线|部署|修复|对比|统计|收集|建了|列出|制作|画了|请|拉了)",
    r"(于是|所以|然后|接着|之后|随后|首先|第一步|第二步)，?我(?!会|这个人|一直|觉得|认为|平时|一般|通常|想|们)",
)
ZH_ACTION_BARE = _rx(
    r"(?:^|[，,。；])\s*(?:嗯|那个|就是)?[，,]?\s*(?:后来|然后|接着|于是|之后|随后|马上|立刻|"
    r"第二天|当天|当时|先|最后)(?:就|又|先|还|也|赶紧|直接)*"
    r"(?:去|把|找|跟|给|约|拉|做了|写了|查了|改了|开了|整理|联系|调整|组织|安排|分析|排查|"
    r"沟通|推动|设计|搭了|建了|列了|打电话|上报|汇报|提交|申请|核对|比对|梳理|培训)",
)
ZH_ACTION_TEAM = _rx(
    r"我们(首先|先|然后|接着|随后|一起|马上|就|又|还|最后)?"
    r"(决定|组织|设计|开发|做了|搭建|建立|推动|制定|调整|优化|重写|上线|部署|修复|排查|"
    r"开会|讨论|把|花了|用了|改了|换了)",
    r"团队(一起|共同|决定|做了|开发|完成)",
)
ZH_RESULT = _rx(
    r"结果|最终|最后|因此|从而|所以.{0,6}(了|到)",
    r"(提高|提升|降低|减少|增加|节省|缩短|增长|下降|上升|翻了|达到|超过|超额)(了|到)?",
    r"(降|升|涨|减|缩)(到|至|为)了?|(多|少|快|高|低|涨|降)了[百一二三四五六七八九十两\d]|带来了|推广到",
    r"(?<![没未])(完成|实现|上线|拿下|签下|签约|成功|续约|续签|赢得|通过|交付)了?",
    r"(学到|意识到|体会到|认识到)",
    r"从.{1,12}(降|提|增|缩|减|变|涨)(到|至|成)",
    r"(至今|现在|到现在|如今)(还在|仍在|一直)?(用|沿用|使用)",
    r"(顺利|好|快|稳定|轻松|简单|清楚)多了",
    r"(客户|领导|老板|团队|工厂|公司)(很)?(满意|认可|表扬|采纳|接受)",
    r"(零|没有再)(事故|投诉|故障|缺陷|返工)",
)
ZH_QUANTIFIED = _rx(
    r"\d+(?:\.\d+)?\s?(?:%|％|倍|万|千|百|个|天|周|小时|分钟|秒|人|家|次|元|块|单|台|件|"
    r"毫秒|个百分点|名|条|份|项|款|位|笔|箱|吨|米)",
    r"百分之[零一二三四五六七八九十百\d]+",
    r"[零〇一二三四五六七八九十两百千万]+多?(毫秒|秒|分钟|小时|天|周|个月|年|万元|元|块|人|家|次|单|件|"
    r"个|位|条|份|项|台|笔|箱|吨|名|例|张|通|起|单)",
    r"从[^，。；]{0,10}[\d零一二三四五六七八九十百千万两]+[^，。；]{0,6}(降|提|增|缩|减|涨|变|升)(到|至|成)",
    r"[一二三四五六七八九十两]+分之[一二三四五六七八九十]",
    r"[一二三四五六七八九十两]+(倍|成|个百分点)",
    r"翻了[一二三两\d]*(倍|番)",
)
ZH_SPECIFIC = _rx(
    r"\d+",
    r"[一二三四五六七八九十两]+(个|家|次|天|周|个月|年|人|位|条|项)",
    r"(去年|前年|上个月|上周|上个?季度|第[一二三四]季度|[一二三四五六七八九十]+月)",
    r"[A-Za-z][A-Za-z0-9]+",
    r"《[^》]+》|“[^”]+”",
)
ZH_VAGUE = _rx(
    r"一般|通常|总是|往往|经常|平时|大概|可能|应该|也许|基本上|差不多|尽量|比较",
    r"我会|我们会|我觉得|我认为|我想|如果|要是|之类|各种|一些|很多事情|一些事情|等等",
)
ZH_HYPOTHETICAL = _rx(r"如果是我|如果我|要是我|我会|我应该|我可能会|假如|我们会|应该会|就会去")
ZH_HABIT = _rx(r"我(一般|平时|通常|总是|经常|习惯|往往)|平常|每次都")
ZH_REFLECTION = _rx(
    r"学到|教训|反思|复盘|意识到|体会到|认识到|明白了|回头看|现在回想|以后我|从那以后|从那之后|"
    r"现在我(都|每次|会|一定)|收获"
)
ZH_LASTING = _rx(
    r"沿用|推广到|推广给|成了(标准|规范|制度|模板|惯例)|写进了?(制度|规范|流程|手册|培训)|"
    r"(其他|别的|兄弟|全)(部门|科室|门店|团队|分行|网点|车间|学校|医院).{0,8}(也|都)(用|采用|照着|按)|"
    r"(至今|现在|到现在|如今)(还|仍|都)?(在)?(用|沿用|使用|执行|按)"
)
ZH_WE = re.compile(r"我们|咱们|大家|团队")
ZH_FAILURE = re.compile(
    r"失败|没能|没有成功|没成功|没做成|搞砸|丢了|流失了|没(拿|签|保)住|黄了|延误了|没赶上|赔了|损失了"
)


@dataclass
class UnitCues:
    """The cues found in one unit, each a list of short cue names."""

    parts: dict[str, list[str]] = field(default_factory=dict)
    quantified: bool = False
    own_actions: int = 0
    team_actions: int = 0
    i_count: int = 0
    we_count: int = 0
    specifics: int = 0
    vague: int = 0
    hypothetical: int = 0
    habitual: int = 0
    reflection: bool = False
    lasting: bool = False
    failure: bool = False

    def has(self, part: str) -> bool:
        """Whether the unit shows a STAR part."""
        return bool(self.parts.get(part))


def _count(pattern: re.Pattern[str], text: str) -> int:
    return sum(1 for _ in pattern.finditer(text))


def _names(text: str) -> int:
    found = 0
    for sentence in re.split(r"(?<=[.!?])\s+", text.strip()):
        for match in EN_NAME.finditer(sentence):
            if match.start() == 0 or match.group(0) in EN_NOT_NAMES:
                continue
            found += 1
    return found


# Hesitations and stutters of speech, dropped before the cues are matched (not from evidence
# quotes, which stay the exact words): "went from, um, about six" reads "went from about six".
_EN_ASIDES = re.compile(r",\s*(?:you know|like|i mean),", re.IGNORECASE)
_EN_FILLERS = re.compile(
    r"(?:,\s*)?\b(?:um+|uh+|erm+|er|hmm+|ah)\b,?|\b(i|we|it|the|a|so|and),? (?=\1\b)",
    re.IGNORECASE,
)
_ZH_FILLERS = re.compile(r"[嗯呃啊]+[，,、]?|(?<=[，,])\s*那个[，,]")


def spoken_clean(text: str, language: str) -> str:
    """The text without fillers and stutters, for matching cues."""
    if language == "zh":
        return _ZH_FILLERS.sub("", text).strip()
    text = _EN_FILLERS.sub(" ", _EN_ASIDES.sub(",", text))
    return re.sub(r"\s{2,}", " ", text).strip()


def unit_cues(text: str, language: str) -> UnitCues:
    """Every cue in one unit's text; deterministic and free of state."""
    cues = UnitCues()
    zh = language == "zh"
    text = spoken_clean(text, language)
    cues.hypothetical = _count(ZH_HYPOTHETICAL if zh else EN_HYPOTHETICAL, text)
    cues.habitual = _count(ZH_HABIT if zh else EN_HABIT, text)
    cues.reflection = (ZH_REFLECTION if zh else EN_REFLECTION).search(text) is not None
    cues.lasting = (ZH_LASTING if zh else EN_LASTING).search(text) is not None
    cues.failure = (ZH_FAILURE if zh else EN_FAILURE).search(text) is not None
    if zh:
        situation, task, result = ZH_SITUATION, ZH_TASK, ZH_RESULT
        action_own, action_team, quantified = ZH_ACTION_OWN, ZH_ACTION_TEAM, ZH_QUANTIFIED
        tokens = zh_tokens(text)
        cues.we_count = sum(1 for t in tokens if ZH_WE.fullmatch(t))
        cues.i_count = sum(1 for t in tokens if t in {"我", "本人", "自己"})
        cues.specifics = _count(ZH_SPECIFIC, text)
        cues.vague = _count(ZH_VAGUE, text)
    else:
        situation, task, result = EN_SITUATION, EN_TASK, EN_RESULT
        action_own, action_team, quantified = EN_ACTION_OWN, EN_ACTION_TEAM, EN_QUANTIFIED
        cues.i_count = _count(EN_I_SUBJECT, text)
        cues.we_count = _count(EN_WE_SUBJECT, text)
        cues.specifics = _count(EN_SPECIFIC, text) + _names(text)
        cues.vague = _count(EN_VAGUE, text)
    cues.own_actions = _count(action_own, text)
    if language == "zh" and not cues.we_count:
        cues.own_actions += _count(ZH_ACTION_BARE, text)
    # "If I took over..." / "我一般会...": in a unit that speaks of habits or hypotheticals, that
    # many "actions" are not things the candidate did.
    cues.own_actions = max(0, cues.own_actions - cues.hypothetical - cues.habitual)
    cues.team_actions = _count(action_team, text)
    cues.quantified = quantified.search(text) is not None
    if situation.search(text):
        cues.parts["situation"] = ["situation"]
    if task.search(text):
        cues.parts["task"] = ["task"]
    if cues.own_actions or cues.team_actions:
        cues.parts["action"] = ["action_own" if cues.own_actions else "action_team"]
    if result.search(text) or cues.lasting or (cues.reflection and cues.own_actions):
        # A failure with a number is still a result, but not a quantified success.
        measured = cues.quantified and not cues.failure
        cues.parts["result"] = ["result_quantified" if measured else "result"]
    return cues
