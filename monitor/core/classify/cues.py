"""The words that decide a claim: kind cues, their contexts, and what turns them (denial, time).

A line is `label weight phrase`. A phrase is slots joined by " + " (later slots may follow the
earlier one within GAP words, in the same clause); a slot lists, with "|", lemmas of Ukrainian,
Russian and English words (English by simplemma's lemma, so "restored" is "restore"). Every
line is a construction, not a sentence: "<time unit> + ago", "back + online", "не + підтверджуватися".
"""

from __future__ import annotations

from dataclasses import dataclass

GAP = 2

# kinds and the contexts that decide between them
_KIND_CUES = r"""
cyber    1.0  ddos|dos|дудос|ддос
cyber    1.0  кібератака|кибератака|cyberattack|кіберінцидент|киберинцидент
cyber    1.0  кібер|кибер|cyber + атака|attack|інцидент|инцидент|incident
cyber    1.0  хакер|хакерський|хакерский|hacker|hack|hacking|hacktivist|хактивіст|хактивист
cyber    1.0  зламати|зламаний|злам|взломать|взломанный|взлом|deface|defacement|дефейс|breach
cyber    1.0  ransomware|шифрувальник|шифровальщик|wiper|вайпер
cyber    1.0  витік|утечка|leak|злив|слив + даний|данные|data|персональний|персональный
cyber    1.0  data + leak|breach
attack   1.0  атака|атакувати|атакований|атаковать|атакованный|attack|attacked
it       1.0  сайт|вебсайт|веб|портал|сервер|сервіс|сервис|застосунок|додаток|приложение|онлайн|інтернет|интернет|банкінг|банкинг|мережа|сеть|ресурс|інфраструктура|инфраструктура|website|site|portal|server|service|app|application|online|internet|banking|network|infrastructure|система|platform|платформа|system|кібербезпека|кибербезопасность|cybersecurity|cert|держспецзв'язку|госспецсвязи
weapon   1.0  ракета|ракетний|ракетный|обстріл|обстрел|удар|артилерія|артиллерия|дрон|бпла|шахед|бомба|авіаудар|авиаудар|missile|rocket|shelling|artillery|drone|airstrike|strike|bomb|bombing|вибух|взрыв|explosion
army     1.0  зсу|всу|військовий|военный|армія|армия|фронт|бригада|противник|ворог|враг|окупант|оккупант|позиція|позиция|наступ|наступление|штурм|танк|бронетехніка|troops|soldier|army|front|frontline|forces|armoured|armored|enemy|offensive|brigade|military|russian|росія|россия|рф
restored 1.2  відновити|відновлений|відновитися|відновлюватися|восстановить|восстановленный|восстановиться|восстанавливаться|restore|resume|recover|запрацювати|заработать|відновлювати
restored 1.2  знову|снова|вже|уже|again|already + працювати|доступний|функціонувати|відкриватися|работать|доступный|функционировать|открываться|online|accessible|available|work|operational|up
restored 1.2  працювати|доступний|функціонувати|работать|доступный|функционировать|accessible|available|work|operational|online + знову|снова|again
restored 1.2  back + online|normal|up|service
working  1.2  штатний|звичайний|нормальний|звичний|штатный|обычный|нормальный|привычный|normal|usual + режим|mode|operation
working  1.2  стабільно|стабильно|normally|stably|нормально|штатно + працювати|работать|функціонувати|функционировать|work|operate|function
working  1.2  працювати|работать|функціонувати|функционировать|work|operate|function|process + стабільно|стабильно|normally|stably|нормально|штатно|повний|полный|full|fully
working  1.2  без|without + збій|сбой|перебій|перебой|interruption|disruption|problem|issue|обмеження|ограничение
restored 1.0  усунути|устранить|fix|resolve + збій|сбой|проблема|неполадка|наслідок|последствие|issue|problem|outage
restored 1.0  збій|сбой|проблема|неполадка|несправність|неисправность|issue|problem|outage + усунути|усунутий|устранить|устраненный|fix|resolve
repelled 1.2  відбити|відбитий|отразить|отраженный|отбить|отбитый|відбивати|отражать|отбивать|repel|mitigate|fend|нейтралізувати|нейтрализовать|neutralize
outage   1.2  недоступний|недоступный|недоступність|недоступность|unavailable|inaccessible|unreachable
outage   1.0  збій|сбой|перебій|перебой|outage|disruption|disrupt|offline|degrade|interruption|interrupt
outage   1.0  неполадка|несправність|неисправность|відключення|отключение|аварія|авария|відсутній|отсутствовать|відсутність|отсутствие|відключити|вимкнути|отключить|выключить
technical 1.0  технічний|технический|регламентний|регламентный|technical + робота|работа|проблема|неполадка|збій|сбой|помилка|ошибка|problem|issue|difficulty|glitch|failure|fault|work
outage   1.0  перерва|перерыв|break|interruption + зв'язок|связь|робота|работа|service|connection
technical 1.0  maintenance|downtime
technical 1.0  збій|сбой|проблема|причина|failure|cause|outage + технічний|технический|technical
outage   0.8  down
outage   1.0  be|go|remain|stay + down|offline
outage   0.6  проблема|problem|затримка|задержка|delay|помилка|ошибка|error|failure|slowdown|glitch|fail
outage   1.0  проблема|problem|issue|труднощі|трудности|difficulty + з|зі|із|с|со|with|у|в|in
outage   0.4  навантаження|нагрузка|load|overload|перевантаження|перегрузка
outage   0.4  тимчасово|временно|тимчасовий|временный|temporarily|temporary
outage   1.2  не|not|ні|нет|isn't|aren't|doesn't|don't|didn't|wasn't|weren't + працювати|відкриватися|завантажуватися|могти|вдатися|вдаватися|бачити|проходити|функціонувати|доступний|відповідати|работать|открываться|загружаться|мочь|удаться|удаваться|видеть|проходить|функционировать|доступный|отвечать|work|available|accessible|load|respond|open|function
outage   1.2  немає|нема|нет|no + зв'язок|доступ|зв'язку|связь|доступа|connection|access|signal|service
outage   1.2  couldn't|can't|cannot|unable + log|login|access|see|connect|pay|use|load|make|open|reach
advisory 1.2  попереджати|попередити|попередження|застерігати|застерегти|рекомендувати|рекомендація|радити|порадити|порада|закликати|нагадувати|предупреждать|предупредить|предупреждение|рекомендовать|рекомендация|советовать|посоветовать|призывать|напоминать
advisory 1.2  warn|warning|urge|advise|advisory|recommend|recommendation|beware|remind
warns    0  попереджати|попередити|предупреждать|предупредить|warn
advisory 1.0  будьте|будь + обережний|пильний|уважний|осторожный|бдительный|внимательный|careful|vigilant|cautious
advisory 0.6  зловмисник|злоумышленник|шкідливий|вредоносный|malware|malicious|вірус|вирус|virus|підозрілий|подозрительный|suspicious|patch|неофіційний|неофициальный
phishing 1.2  фішинг|фішинговий|фишинг|фишинговый|phishing|шахрай|шахрайський|шахрайство|мошенник|мошеннический|мошенничество|scam|scammer|fraud|fraudster|fraudulent
"""

# what turns a kind cue: a denial of the report, a past or planned time, or "now" overriding past
_TURN_CUES = r"""
deny     0  не + відповідати|соответствовать + дійсність|действительность
deny     0  не + підтверджуватися|підтвердитися|подтверждаться|подтвердиться|підтверджений|подтвержденный|підтвердити|подтвердить|підтверджувати|подтверждать|confirm
deny     0  спростовувати|спростувати|опровергать|опровергнуть|спростування|опровержение|deny|refute|debunk|dismiss
fake     0  фейк|фейковий|фейковый|fake|неправда|неправдивий|неправдивый|ложный|false|untrue|дезінформація|дезинформация|disinformation|вкид|вброс|hoax|misinformation|чутка|слух|rumour|rumor
deny     0  not|не + true|правда
past     0  рік|роки|місяць|тиждень|день|year|month|week|day|год|месяц|неделя|decade + тому|назад|ago
past     0  учора|вчора|вчера|позавчора|позавчера|yesterday|торік|минулорічний|прошлогодний
past     0  минулий|прошлый|last|попередній|previous + рік|год|year|місяць|месяц|month|тиждень|неделя|week|раз|time
past     0  back + in
past     0  нагадати|напомнить|recall
past     0  річниця|годовщина|anniversary
past     0  історія|история|history + кібератака|атака|attack|cyberattack
now      0  зараз|наразі|сьогодні|сейчас|сегодня|now|currently|today|тривати|продовжуватися|продолжаться|ongoing|still|досі|знову|снова|again
planned  0  мати|должный|повинний + бути|быть
planned  0  планувати|планироваться|планувати|плануватися|очікуватися|ожидаться|plan|expect|schedule|плановий|плановый|planned|незабаром|найближчим|скоро|вскоре|ближайший|soon|shortly|will|shall|згодом|позже|later|upcoming|майбутній|предстоящий
planned  0  буде|будуть|будет|будут|будемо|будем|would
"""

KINDS = frozenset(
    {
        "cyber",
        "attack",
        "restored",
        "working",
        "repelled",
        "outage",
        "technical",
        "advisory",
        "phishing",
    }
)
CONTEXTS = frozenset({"it", "weapon", "army"})
TURNS = frozenset({"deny", "fake", "past", "now", "planned", "warns"})

# a negation before a cue (or "not" after it with a verb of being or finding) denies it
NEGATIONS = frozenset(
    {
        "не",
        "ні",
        "ни",
        "нет",
        "немає",
        "нема",
        "жодний",
        "жодних",
        "никакой",
        "not",
        "no",
        "never",
        "isn't",
        "aren't",
        "wasn't",
        "weren't",
        "hasn't",
        "haven't",
        "didn't",
        "doesn't",
        "without",
        "без",
    }
)
# "не тільки": not a negation
NOT_NEGATING = frozenset({"тільки", "лише", "только", "лишь", "only", "just", "виключено"})
# "атаки не було", "кібератаки не зафіксовано", "no attack was detected"
FOUND = frozenset(
    {
        "бути",
        "быть",
        "be",
        "фіксувати",
        "зафіксувати",
        "фиксировать",
        "зафиксировать",
        "виявити",
        "виявляти",
        "выявить",
        "выявлять",
        "detect",
        "find",
        "observe",
        "спостерігатися",
        "наблюдаться",
        "зафіксований",
        "виявлений",
        "зафиксированный",
        "выявленный",
        "відбуватися",
        "происходить",
        "happen",
        "occur",
        "record",
        "підтвердитися",
        "подтвердиться",
        "confirm",
    }
)
# "фейк про атаку", "reports of a hack are false": a falsehood about what follows or what went before
ABOUT = frozenset(
    {
        "про",
        "о",
        "об",
        "щодо",
        "относительно",
        "about",
        "of",
        "regarding",
        "нібито",
        "якобы",
        "allegedly",
    }
)
COPULA = frozenset({"бути", "быть", "be", "це", "это", "є"})
# "після вчорашнього збою": the time is the failure's, not the news's
AFTER = frozenset({"після", "после", "after", "since", "following"})
# "X rather than an attack", "замість атаки": the second is denied
INSTEAD = frozenset({"замість", "вместо", "instead"})
# "від імені ПриватБанку": fraudsters using the name; the bank is not what the notice is about
IMPERSONATING = frozenset(
    {"імені", "имени", "impersonate", "impersonating", "виглядом", "видом", "behalf", "name"}
)
# an infinitive after these happened: "вдалося відбити", "managed to restore"
MANAGED = frozenset(
    {"вдатися", "удаться", "змогти", "смочь", "manage", "succeed"}
    | {"могти", "мочь", "may", "might", "can", "could"}  # a hedge about now: "може не працювати"
)
# English marks a plan with "to": "working to restore"
TO = frozenset({"to"})


@dataclass(frozen=True, slots=True)
class Cue:
    """One construction: its label, weight and slots of lemmas."""

    label: str
    weight: float
    slots: tuple[frozenset[str], ...]


def _parse(table: str) -> list[Cue]:
    cues = []
    for line in table.strip().splitlines():
        label, weight, phrase = line.split(None, 2)
        slots = tuple(frozenset(s.strip().split("|")) for s in phrase.split(" + "))
        cues.append(Cue(label, float(weight), slots))
    return cues


CUES = _parse(_KIND_CUES) + _parse(_TURN_CUES)
