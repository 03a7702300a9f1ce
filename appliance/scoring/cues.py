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
)
EN_ACTION_OWN = _rx(
    rf"\bi (first |then |also |personally |immediately |quickly |carefully |next |finally )?"
    rf"(?!(?:{_EN_STATE_VERBS})\b)([a-z]+ed|{_EN_IRREGULAR})\b",
    r"\b(so|then|first|next|afterwards|after that|finally),? i\b",
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
    r"\b(eventually|ultimately|in the end|at the end)\b",
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
    r"^within (a|one|two|three|four|five|six|nine|twelve|\\d+) (days?|weeks?|months?|years?)\b",
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
    r"\b\d+(?:[.,]\d+)?\s?(?:%|percent|per cent|x\b|times\b|hours?\b|days?\b|weeks?\b|"
    r"months?\b|minutes?\b|seconds?\b|ms\b|milliseconds\b|k\b|m\b|million|thousand|"
    r"dollars|euros|pounds|yuan|customers|users|clients|people|points|deals|accounts|"
    r"units|defects|incidents|tickets|orders|percentage points|hires|engineers|stores|"
    r"shifts|pieces|parts)",
    r"[$€£¥]\s?\d",
    r"\b(doubled|tripled|halved|quadrupled)\b",
    r"\bfrom \d+(?:[.,]\d+)?\S* to \d",
    r"\b(one|two|three|four|five|six|seven|eight|nine|ten|twenty|thirty|forty|fifty|sixty|"
    r"seventy|eighty|ninety|a hundred|hundred) (percent|per cent|times|hours|days|weeks|"
    r"months|customers|people|points|deals)\b",
)
EN_SPECIFIC = _rx(
    r"\b\d+(?:[.,]\d+)?\b",
    r"\b(january|february|march|april|may|june|july|august|september|october|november|"
    r"december|monday|tuesday|wednesday|thursday|friday)\b",
    r"\b(within|over|in|for|after) (a|one|two|three|four|five|six|eight|ten|twelve|\d+) "
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
    r"\bi would\b|\bi'd\b|\bi will\b|\bi'll\b|\bwe would\b|\bwe'd\b",
    r"\byou (would|should|need to|have to|can|could|try)\b",
    r"\b(in general|i think|i believe|i guess|probably|maybe|perhaps|i try to|i like to|"
    r"i tend to|i prefer to|if there is|if there's|if i)\b",
)
EN_I = re.compile(r"\b(i|i'm|i've|i'd|me|my|myself)\b", re.IGNORECASE)
EN_I_SUBJECT = re.compile(r"\bi\b", re.IGNORECASE)
EN_WE_SUBJECT = re.compile(r"\b(we|the team|my team|our team|everyone)\b", re.IGNORECASE)

ZH_SITUATION = _rx(
    r"当时|那时|那时候|去年|前年|上个月|上半年|下半年|有一次|之前在|以前在|在上一家|上家公司",
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
    r"我(需要|必须|得)(在|把|让|解决|完成|提升|降低)",
    r"我们(需要|必须|得)",
)
ZH_ACTION_OWN = _rx(
    r"我(首先|先|然后|接着|随后|马上|立即|立刻|主动|亲自|还|又|就|便|于是|最后)?"
    r"(决定|组织|带领|设计|编写|写了|搭建|建立|推动|协调|安排|制定|分析|联系|约了|召集|"
    r"提出|引入|开发|重写|优化|整理|拜访|培训|跟进|说服|梳理|拆分|调整|找了|做了|用了|"
    r"重新|把|和|跟|给|花了|逐一|一一|写|做|改|开了|发起|牵头|主导|谈|沟通|访谈|开始|看了|查了|"
    r"复盘|排查|定位|测试|上线|部署|修复|对比|统计|收集|建了|列出|制作|画了|请|拉了)",
    r"(于是|所以|然后|接着|之后|随后|首先|第一步|第二步)，?我",
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
    r"(降|升|涨|减|缩)(到|至|为)了?|(多|少|快|高|低)了[百一二三四五六七八九十两\\d]|带来了|推广到",
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
    r"[零〇一二三四五六七八九十两百千万]+(毫秒|秒|分钟|小时|天|周|个月|年|万元|元|人|家|次|单|件)",
    r"[一二三四五六七八九十两]+分之[一二三四五六七八九十]",
    r"[一二三四五六七八九十两]+(倍|成|个百分点)",
    r"翻了[一二三两\d]*(倍|番)",
)
ZH_SPECIFIC = _rx(
    r"\d+",
    r"[一二三四五六七八九十两]+(个|家|次|天|周|个月|年|人|位|条|项)",
    r"(去年|前年|上个月|上周|上季度|第[一二三四]季度|[一二三四五六七八九十]+月)",
    r"[A-Za-z][A-Za-z0-9]+",
    r"《[^》]+》|“[^”]+”",
)
ZH_VAGUE = _rx(
    r"一般|通常|总是|往往|经常|平时|大概|可能|应该|也许|基本上|差不多|尽量|比较",
    r"我会|我们会|我觉得|我认为|我想|如果|要是|之类|各种|一些|很多事情|一些事情|等等",
)
ZH_WE = re.compile(r"我们|咱们|大家|团队")


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


def unit_cues(text: str, language: str) -> UnitCues:
    """Every cue in one unit's text; deterministic and free of state."""
    cues = UnitCues()
    if language == "zh":
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
    cues.team_actions = _count(action_team, text)
    cues.quantified = quantified.search(text) is not None
    if situation.search(text):
        cues.parts["situation"] = ["situation"]
    if task.search(text):
        cues.parts["task"] = ["task"]
    if cues.own_actions or cues.team_actions:
        cues.parts["action"] = ["action_own" if cues.own_actions else "action_team"]
    if result.search(text):
        cues.parts["result"] = ["result_quantified" if cues.quantified else "result"]
    return cues
