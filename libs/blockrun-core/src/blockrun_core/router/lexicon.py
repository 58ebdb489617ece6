"""Multilingual cue words for the router's classifier, and the matcher that finds them.

:data:`CONCEPTS` maps each cue concept to entries in EN, ZH, JA, KO, RU, DE, ES, PT, AR
and FR, separated by ``|``; ``prov{e,es,ing}`` spells several forms, a trailing ``*``
marks a stem. :func:`scan` returns the concepts a lower-cased text mentions, as bits
(see :data:`BITS`); a concept counts once however many of its entries match.

How entries are matched depends on their script, and is built for speed (a few
microseconds per short prompt, linear time on any input):

* Latin and Cyrillic words and phrases match whole words. The text is tokenised as
  UTF-8 bytes: ``bytes.translate`` blanks ASCII punctuation (UTF-8 multi-byte sequences
  contain no ASCII bytes), ``split`` tokenises, and one set intersection finds every
  cue word. A phrase is indexed by its rarest word and confirmed by one substring test.
* Stems (Cyrillic, accented Latin) and all Arabic entries match at the start of a word,
  by one byte-level trie regex behind a space: it fans out over a few UTF-8 lead bytes,
  and Arabic entries also match behind attached prefixes (و، ف، ال، بال، لل، ب، ل).
* Chinese, Japanese and Korean entries are substrings. A regex over first and second
  characters finds candidate bigrams in one pass (a trie over hundreds of first
  characters would walk every branch at each failed position), a set intersection keeps
  the bigrams that start an entry, and a substring test confirms longer entries.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

__all__ = ["BITS", "CONCEPTS", "NOTATION", "scan", "utf8"]

CONCEPTS: dict[str, str] = {
    # ---- SIMPLE cues -------------------------------------------------------------
    "greeting": """
        hi|hello|hey|hiya|howdy|thanks|thank you|thx|ty|cheers|good morning|good night|
        good evening|good afternoon|bye|goodbye|see you|how are you|what's up|whats up|
        nice to meet you|lol|ok|okay|
        你好|您好|谢谢|早上好|晚安|再见|嗨|哈喽|
        こんにちは|こんばんは|おはよう|ありがとう|さようなら|よろしく|
        안녕|감사합니다|고마워|반가워|
        привет|здравствуй*|спасибо|доброе утро|добрый день|пока|
        hallo|moin|danke|guten morgen|guten tag|tschüss|servus|
        hola|gracias|buenos días|buenas noches|buenas tardes|adiós|
        olá|oi|obrigad{o,a}|bom dia|boa noite|boa tarde|tchau|
        مرحبا|السلام عليكم|شكرا|صباح الخير|أهلا|اهلا|
        bonjour|salut|merci|bonsoir|coucou|au revoir
    """,
    "factoid": """
        capital of|capital city|who wrote|who invented|who painted|who discovered|who founded|
        who was|who is|who are|when did|when was|when is|where is|where was|where are|
        what year|which year|what time|what day|what date|how old|how tall|how far|how long is|
        how big|how many people|population of|currency of|president of|ceo of|founder of|
        boiling point|freezing point|speed of light|tallest|largest|smallest|longest|highest|
        author of|capital|
        首都|谁|哪一年|哪年|什么时候|哪里|哪儿|哪个|哪些|多少岁|多高|
        誰|どこ|何年|何歳|
        수도|누구|언제|어디|몇 년|인구|
        столица|столицей|кто написал|кто изобрел|кто изобрёл|кто такой|кто такая|когда|где|
        сколько лет|население|
        hauptstadt|wer hat|wer war|wer ist|wann|wo ist|wo liegt|wie alt|wie hoch|einwohner|
        capital de|quién escribió|quién fue|quién es|quién inventó|cuándo|dónde|cuántos años|
        población|
        quem escreveu|quem foi|quem é|quem inventou|quando|onde fica|onde é|população|
        عاصمة|من هو|من هي|من كتب|متى|أين|اين|كم عمر|عدد سكان|
        capitale|qui a écrit|qui est|qui était|qui a inventé|quand|où est|où se trouve
    """,
    "definition": """
        define|definition|meaning of|what does|stand for|stands for|synonym|synonyms|antonym|
        antonyms|what is|what's|what are|whats|what is a|what is an|
        什么是|是什么|什么意思|意思是|定义|含义|
        とは何|って何|意味|定義|
        이란|란 무엇|뜻|의미|정의|무엇인가|뭐야|
        что такое|что значит|что означает|значение слова|определение|
        was ist|was sind|was bedeutet|bedeutung|definition von|definiere|
        qué es|que es|qué son|qué significa|que significa|significado|define|definición|
        o que é|o que são|o que significa|significado de|definição|defina|
        ما هو|ما هي|ما معنى|تعريف|معنى|
        qu'est-ce que|qu'est ce que|c'est quoi|que signifie|signification|définition|définis
    """,
    "translate": """
        translat{e,ed,ion,ing}|how do you say|how to say|in english|in spanish|in french|
        in german|in chinese|in japanese|in korean|in russian|in arabic|in portuguese|
        翻译|译成|翻成|翻訳|英語で|日本語で|번역|영어로|한국어로|
        перевед*|переведи|перевод*|по-английски|по-русски|
        übersetz{e,en,ung}|auf deutsch|auf englisch|
        traduc{e,ir,ción,e al}|traduzca|en inglés|en español|
        traduz{a,ir}|tradução|em inglês|em português|
        ترجم|بالإنجليزية|بالعربية|
        tradui{s,re,t}|traduction|en anglais|en français
    """,
    "brief": """
        one word|one sentence|a sentence|single word|briefly|brief|short answer|yes or no|
        true or false|just the answer|only the answer|quick question|tl;dr|tldr|
        句话|简短|言で|簡単に|한 문장|간단히|одним словом|кратко|одним предложением|
        kurz|in einem satz|ja oder nein|en una frase|brevemente|sí o no|em uma frase|
        باختصار|في جملة|en une phrase|brièvement|oui ou non
    """,
    "text_edit": """
        typo|typos|spelling|proofread|grammar|capitalize|capitalise|uppercase|lowercase|
        punctuation|rephrase|reword|rewrite|paraphrase|shorten|word count|count the words|
        sort alphabetically|alphabetize|remove duplicates|remove the duplicates|dedupe|
        deduplicate|fix the grammar|fix grammar|
        错别字|拼写|语法|润色|改写|校对|誤字|誤字脱字|文法|校正|오타|맞춤법|문법|
        опечатк*|орфограф*|грамматик*|
        tippfehler|rechtschreibung|grammatik|korrigiere|
        errores ortográficos|ortografía|gramática|corrige|
        erros de digitação|ortografia|gramática|corrija|
        الأخطاء الإملائية|إملائية|املائية|
        fautes|orthographe|grammaire|corrige
    """,
    "convert": """
        convert|conversion|in celsius|in fahrenheit|to celsius|to fahrenheit|to miles|to km|
        to kilometers|to pounds|to kg|to inches|to cm|to usd|to euros|how many cm|
        how many grams|how many ounces|how many minutes|how many seconds|
        换算|转换成|摄氏|华氏|換算|변환|환산|перевести в|конвертир*|umrechnen|
        convertir|converter|حوّل|تحويل|convertis
    """,
    "eli5": """
        like i'm five|like im five|to a child|to a kid|to a 10-year-old|simple terms|
        simple words|plain english|plain-english|plain language|
        给小孩|小学生|简单地说|子供にも|小学生にも|簡単に言うと|아이도|초등학생|쉽게|
        ребёнку|ребенку|простыми словами|kind versteht|kindgerecht|einfach erklärt|
        tochter versteht|sohn versteht|a un niño|con palabras sencillas|para uma criança|
        palavras simples|لطفل|بكلمات بسيطة|à un enfant|avec des mots simples
    """,
    "trivial_code": """
        print|hello world|comment out|case sensitive|case-sensitive|semicolon|indentation|
        console log|printf|打印|表示する|출력|вывести на экран|ausgeben|imprimir|afficher
    """,
    # ---- MEDIUM cues -------------------------------------------------------------
    "code": """
        code|coding|function|functions|script|scripts|program|programming|class|method|
        regex|regexp|regular expression|sql|query|queries|api|endpoint|bug|bugs|debug|
        debugging|error|errors|exception|traceback|stack trace|compile|compiler error|
        unit test|unit tests|pytest|jest|python|javascript|typescript|java|golang|rust|c++|
        csharp|kotlin|swift|ruby|php|bash|shell|powershell|html|css|react|vue|angular|django|
        flask|fastapi|nodejs|node.js|pandas|numpy|dataframe|json|yaml|csv|dockerfile|
        docker|git|npm|pip|linter|snippet|variable|variables|loop|array|dict|dictionary|
        list comprehension|async|await|recursion|recursive|leetcode|algorithm|algorithms|
        implement|implementation|segfault|null pointer|nullpointerexception|typeerror|
        valueerror|keyerror|syntaxerror|undefined|cli|webhook|websocket|crud|orm|
        代码|函数|脚本|编程|程序|报错|错误|调试|算法|正则|接口|数据库|
        コード|関数|スクリプト|プログラム|エラー|デバッグ|アルゴリズム|正規表現|実装|
        코드|함수|스크립트|프로그램|에러|오류|디버그|디버깅|알고리즘|정규식|구현|
        код|функци*|скрипт*|программ*|ошибк*|отлад*|алгоритм*|регуляр*|реализ*|
        funktion|skript|programm|fehler|fehlermeldung|implementier{e,en,ung}|
        función|código|programa|depurar|implementa|implementar|
        função|código|programa|erro|depurar|implemente|implementar|
        دالة|كود|برمجة|برنامج|خطأ|خوارزمية|
        fonction|programme|erreur|déboguer|implémente*|implémenter
    """,
    "compare": """
        difference between|differences between|diff between|compare|comparison|contrast|versus|vs|
        pros and cons|advantages|disadvantages|better than|instead of|
        区别|比较|对比|优缺点|違い|比較|차이|비교|장단점|
        разниц*|сравн*|преимуществ*|недостатк*|
        unterschied|vergleiche|vergleich|vorteile|nachteile|
        diferencia|compara|comparar|ventajas|desventajas|
        diferença|compare|comparar|vantagens|desvantagens|
        الفرق|قارن|مقارنة|مزايا|
        différence|compare|comparer|avantages|inconvénients
    """,
    "explain": """
        explain|explains|explanation|describe|description|how does|how do|how can|how to|
        why does|why do|why is|why are|why would|and why|summarize|what does this code|
        this code do|this function do|this script do|this query do|what this code does|
        with an example|with examples|with a simple example|con un ejemplo|com um exemplo|
        avec un exemple|mit einem beispiel|с примером|с примерами|并举例|举个例子|例を挙げて|
        예시도|مع مثال|explícame|explicame|explícanos|explique-moi|erkläre mir|erklär mir|
        объясни мне|me explica|explica-me|
        summarise|summary|overview|outline|elaborate|walk me through|tell me about|
        解释|说明|介绍|为什么|怎么|如何|区别|比较|优缺点|总结|概述|摘要|
        説明|解説|なぜ|どうして|違い|比較|要約|まとめ|教えて|
        설명|왜|어떻게|차이|비교|장단점|요약|
        объясн*|опиши|почему|как работает|разниц*|сравн*|преимуществ*|резюм*|кратко изложи|
        erkläre|erklären|erklär|beschreibe|warum|wie funktioniert|unterschied|vergleiche|
        zusammenfassung|fasse|
        explica|explicar|describe|por qué|cómo funciona|diferencia|compara|resumen|resumir|
        resume el|resume este|resume la|
        ventajas|
        explique|explicar|descreva|por que|como funciona|diferença|compare|resuma|resumo|
        vantagens|
        اشرح|شرح|لماذا|كيف|الفرق|قارن|مقارنة|لخص|ملخص|
        explique|expliquer|décris|pourquoi|comment fonctionne|différence|compare|résume|résumé|
        avantages
    """,
    "write": """
        write|draft|compose|create|generate|prepare|put together|come up with|devise|
        essay|email|e-mail|letter|story|poem|haiku|limerick|article|
        创建|制作|生成|制定|作成して|作って|만들어|만들어줘|создай|составь|erstelle|erstellen|
        crea|elabora|crie|elabore|monte|أنشئ|اصنع|crée|élabore|
        blog|blog post|speech|cover letter|toast|tweet|slogan|tagline|lyrics|song|
        product description|review|newsletter|press release|outline for|
        写|撰写|作文|文章|邮件|封信|故事|诗歌|首诗|歌词|演讲|
        書いて|作文|メール|手紙|物語|詩|記事|
        써줘|써 줘|써주세요|써 주세요|작성|이메일|편지|이야기|시를|에세이|
        напиши|написать|сочини*|письмо|рассказ|стих*|эссе|статью|
        schreibe|schreib|verfasse|aufsatz|geschichte|gedicht|
        escribe|escribir|redacta|ensayo|correo|carta|cuento|poema|
        escreva|escrever|redija|redação|carta|conto|poema|
        اكتب|مقال|رسالة|قصة|قصيدة|
        écris|écrire|rédige|rédiger|dissertation|courriel|lettre|histoire|poème
    """,
    "plan": """
        plan|itinerary|schedule|recipe|workout|guide|tutorial|checklist|tips|recommend|
        recommendation|recommendations|suggest|suggestions|ideas|brainstorm|steps to|
        计划|行程|食谱|建议|推荐|攻略|計画|スケジュール|レシピ|おすすめ|プラン|観光|계획|일정|레시피|추천|
        план|маршрут|рецепт|посоветуй|рекоменд*|
        plan|reiseplan|rezept|empfehl{e,ung,ungen}|vorschläge|
        plan|itinerario|receta|recomienda|sugerencias|
        plano|roteiro|receita|recomende|sugestões|
        خطة|وصفة|اقترح|
        plan|itinéraire|recette|recommande|suggestions
    """,
    "data": """
        analyze|analyse|analysis|extract|parse|classify|categorize|tabulate|table|spreadsheet|
        dataset|data|statistics|chart|regression|
        分析|提取|分类|表格|数据|統計|分析|抽出|データ|분석|추출|데이터|
        анализ*|извлеки|данны*|таблиц*|
        analysiere|analyse|extrahiere|daten|tabelle|
        analiza|analizar|extrae|datos|tabla|
        analise|analisar|extraia|dados|tabela|
        حلل|تحليل|بيانات|جدول|
        analyse|analyser|extrais|données|tableau
    """,
    # ---- COMPLEX cues ------------------------------------------------------------
    "architecture": """
        architecture|architect|system design|scalable|scalability|distributed|microservice|
        microservices|high availability|fault tolerant|fault-tolerant|fault tolerance|
        sharding|replication|consensus|load balancing|load balancer|event-driven|
        event sourcing|cqrs|kubernetes|k8s|multi-region|message queue|kafka|rabbitmq|
        service mesh|horizontal scaling|millions of users|data pipeline|infrastructure|
        url shortener|news feed|web crawler|key-value store|chat system|ride-sharing|
        notification system|search autocomplete|distributed cache|distributed queue|
        design a system|design the system|спроектируй систему|设计一个系统|システムを設計|
        시스템을 설계|entwirf ein system|diseña un sistema|projete um sistema|conçois un système|
        صمم نظام|
        backend architecture|multi-tenant|rate limiter|shard|shards|zero-downtime|
        without downtime|no downtime|blue green|failover|single point of failure|
        disaster recovery|concurrent users|requests per second|requests s|real-time|crdt|
        saga pattern|outbox|exactly once|exactly-once|idempotency|data model|
        千万级|亿级|日活|无停机|不停机|秒杀|限流|降级|容灾|
        無停止|無停止で|整合性|冗長化|무중단|대규모|트래픽|
        без простоя|отказоустойчивост*|
        ohne ausfallzeit|ausfallsicherheit|
        sin tiempo de inactividad|exactamente una vez|sin interrumpir|sin interrupción|
        sem interrupção|
        sem downtime|sem parar|
        دون توقف|
        sans interruption|tolérance aux pannes|
        架构|分布式|微服务|高可用|高并发|可扩展|负载均衡|系统设计|分片|容错|
        アーキテクチャ|分散|マイクロサービス|高可用性|スケーラブル|負荷分散|システム設計|
        아키텍처|분산|마이크로서비스|고가용성|확장 가능|확장성|부하 분산|시스템 설계|
        архитектур*|распредел*|микросервис*|масштабир*|отказоустойчив*|балансиров*|
        architektur|verteilt{e,en,es}|skalierbar{e,en}|ausfallsicher{e,en}|lastverteilung|
        arquitectura|distribuido|distribuida|escalable|microservicios|alta disponibilidad|
        arquitetura|distribuído|distribuída|escalável|microsserviços|
        معمارية|بنية تحتية|موزع|قابل للتوسع|الخدمات المصغرة|
        architecture|distribué|distribuée|évolutive|microservices|haute disponibilité
    """,
    "design": """
        design|designing|architect a|system for|platform for|end-to-end|end to end|
        production-ready|production ready|production-grade|full-stack|full stack|
        from scratch|blueprint|
        设计|搭建|从零|端到端|生产级|設計|ゼロから|構築|설계|구축|처음부터|
        спроектируй|проектир*|разработай|с нуля|
        entwirf|entwerfen|entwickle|von grund auf|
        diseña|diseñar|desde cero|
        projete|projetar|desenvolva|do zero|
        صمم|تصميم|من الصفر|
        conçois|concevoir|conception|à partir de zéro
    """,
    "refactor": """
        refactor|refactoring|restructure|migrate|migration|modernize|modularize|decouple|
        monolith|legacy|technical debt|codebase|code base|repository|repo|monorepo|
        multi-file|multiple files|several files|across files|across the codebase|modules|
        ci/cd|pipeline|terraform|
        重构|迁移|代码库|仓库|多个文件|遗留|
        リファクタリング|リファクタ|移行|コードベース|リポジトリ|複数のファイル|レガシー|
        리팩토링|리팩터링|마이그레이션|코드베이스|저장소|레거시|여러 파일|
        рефактор*|миграц*|мигрир*|кодовая база|кодовой базе|кодовую базу|кодовой базы|
        репозитор*|легаси|
        refaktorier{e,en,ung}|umstrukturier{e,en}|migration|migriere|codebasis|
        refactoriza|refactorizar|migra|migrar|migración|base de código|repositorio|
        refatore|refatorar|refatoração|migrar|migração|base de código|repositório|
        إعادة هيكلة|ترحيل|قاعدة الكود|المستودع|
        refactorise|refactoriser|refactorisation|migrer|base de code|dépôt
    """,
    "build_system": """
        compiler|interpreter|engine|framework|database engine|scheduler|protocol|kernel|
        operating system|virtual machine|emulator|raft|paxos|blockchain|orm|runtime|
        garbage collector|query planner|search engine|recommendation system|trading system|
        lexer|parser|tokenizer|type checker|language server|
        payment system|booking system|e-commerce platform|saas|platform|систему рекомендаций|
        рекомендательн*|
        编译器|解释器|引擎|框架|调度器|协议|操作系统|虚拟机|区块链|平台|
        コンパイラ|インタプリタ|エンジン|フレームワーク|スケジューラ|プロトコル|プラットフォーム|
        컴파일러|인터프리터|엔진|프레임워크|스케줄러|프로토콜|플랫폼|
        компилятор*|интерпретатор*|движок|фреймворк*|планировщик*|протокол*|платформ*|
        compiler|interpreter|engine|plattform|protokoll|
        compilador|intérprete|motor|plataforma|protocolo|
        compilador|interpretador|motor|plataforma|protocolo|
        محرك|منصة|بروتوكول|
        compilateur|interpréteur|moteur|plateforme|protocole
    """,
    "security": """
        security audit|security review|vulnerability|vulnerabilities|threat model|
        threat modeling|penetration test|pentest|exploit|xss|sql injection|csrf|ssrf|owasp|
        hardening|zero trust|attack surface|cve|privilege escalation|secure the|
        security problems|security issues|security flaws|security holes|security concept|
        audit|auditing|misconfiguration|misconfigurations|remediation|information security|
        seguridad de la información|sécurité de l'information|informationssicherheit|
        информационной безопасности|信息安全|审计|監査|情報セキュリティ|정보보안|보안 점검|
        auditoría|auditoria|reprise d'activité|continuité d'activité|disaster recovery plan|
        oauth|rbac|role-based access control|access control|single sign-on|sso|
        incident response|ransomware|data breach|business continuity|gdpr|dsgvo|rgpd|lgpd|
        hipaa|pci dss|iso 27001|soc 2|compliance|privacy policy|datenschutzkonzept|
        löschkonzept|sicherheitskonzept|datenschutz|
        越权|注入|权限控制|アクセス制御|認証|권한|인증|sicherheitskonzept|
        sécurité des systèmes|segurança da informação|seguridad informática|أمن المعلومات|
        安全审计|安全审查|漏洞|威胁建模|渗透|セキュリティ監査|脆弱性|脅威モデル|
        보안 감사|보안 검토|취약점|위협 모델|
        уязвимост*|аудит безопасност*|угроз*|
        sicherheitsaudit|schwachstell{e,en}|sicherheitslücke|sicherheitslücken|bedrohungsmodell|
        auditoría de seguridad|vulnerabilidad|vulnerabilidades|
        auditoria de segurança|vulnerabilidade|vulnerabilidades|
        ثغرات|ثغرة|تدقيق أمني|
        audit de sécurité|vulnérabilité|vulnérabilités
    """,
    "performance": """
        performance|optimize|optimise|optimization|optimisation|bottleneck|bottlenecks|p99|p95|
        slow at peak|under load|
        latency|throughput|profiling|memory leak|race condition|deadlock|concurrency|
        concurrent|thread-safe|thread safe|lock-free|multithreading|multithreaded|
        cache invalidation|scale to|at scale|
        性能|优化|瓶颈|延迟|吞吐|内存泄漏|竞态|死锁|并发|
        パフォーマンス|最適化|ボトルネック|レイテンシ|メモリリーク|デッドロック|並行|並列|
        성능|최적화|병목|지연 시간|메모리 누수|교착|동시성|
        производительност*|оптимизир*|оптимизац*|узкое место|узкие места|утечк*|взаимоблокиров*|
        многопоточ*|
        leistung|optimiere|optimierung|engpass|speicherleck|nebenläufigkeit|
        rendimiento|optimiza|optimizar|optimización|cuello de botella|concurrencia|
        desempenho|otimize|otimizar|otimização|gargalo|concorrência|
        أداء|تحسين الأداء|اختناق|
        optimise|optimiser|optimisation|goulot|concurrence
    """,
    "depth": """
        comprehensive|in-depth|in depth|thorough|thoroughly|detailed|deep dive|trade-offs|
        tradeoffs|trade offs|strategy|strategic|roadmap|business plan|research proposal|
        literature review|due diligence|critically|whitepaper|white paper|rfc|
        design document|design doc|technical specification|evaluate|assessment|
        full report|report on|
        全面|深入|详细|权衡|战略|路线图|商业计划|综述|
        包括的|詳細|徹底|トレードオフ|戦略|ロードマップ|事業計画|
        포괄적|심층|상세|트레이드오프|전략|로드맵|사업 계획|
        подробн*|всесторонн*|глубок*|компромисс*|стратеги*|бизнес-план*|
        umfassend{e,en}|ausführlich{e,en}|detailliert{e,en}|strategie|kompromisse|
        exhaustivo|detallado|detallada|en profundidad|estrategia|plan de negocios|
        abrangente|detalhado|detalhada|aprofundad{o,a}|estratégia|plano de negócios|
        شامل|مفصل|معمق|استراتيجية|خطة عمل|
        approfondi|approfondie|détaillé|détaillée|exhaustif|stratégie|compromis
    """,
    # ---- REASONING cues ----------------------------------------------------------
    "proof": """
        prove|proves|proving|show that|demonstrate that|derive|derives|deriving|rigorously|
        formally verify|by induction|by contradiction|prove it|construct it|disprove|
        counterexample|
        请证明|证明一下|证明过程|试证|求证|推导|推导出|
        証明して|証明せよ|証明しなさい|証明を|導出して|導出せよ|導いて|示せ|示して|
        증명해|증명하|증명을|유도해|유도하|엄밀하게|보이고|보이시오|
        доказ*|докаж*|выведи|вывод формулы|покажите что|покажи что|
        beweise|beweisen|zeige dass|zeigen sie dass|herleit{en,ung}|leite|
        demuestra|demuestre|demostrar|prueba que|muestra que|deriva|derivar|
        demonstre|demonstra|demonstrar|prove que|mostre que|mostra que|deduz|deduza|
        برهن|أثبت|اثبت|أثبتها|اشتق|
        démontre|démontrer|prouve|prouver|montre que|montrez que|dérive|dériver
    """,
    "proof_mention": """
        to prove|hard to prove|difficult to prove|be proved|been proved|was proved|is proven|
        been proven|was proven|proven to|proof of concept|prove which
    """,
    "proof_noun": """
        proof|proofs|derivation|rigorous|qed|
        证明|証明|증명|доказательство|beweis|demostración|demonstração|prova|إثبات|
        preuve|démonstration
    """,
    "justify": """
        justify|justifies|why can't|why it can't|prove it's|explain why|is it possible|
        can every|if not|
        说明为什么|为什么不能|说明理由|能不能|是否可能|なぜそうなる|理由も|考え方|
        이유도|가능할까|가능한가|
        обоснуй*|почему нельзя|возможно ли|
        begründe|begründen|ist es möglich|
        justifica|justifique|es posible|é possível|
        علل|هل يمكن|
        justifie|justifiez|est-il possible
    """,
    "stepwise": """
        step by step|step-by-step|show your work|show your reasoning|reason through|
        think carefully|chain of thought|work it out|explain your reasoning|
        justify your answer|full strategy|explain the reasoning|show the reasoning|
        walk through the reasoning|reasoning process|
        步一步|逐步|分步|步步|推理过程|
        ステップバイステップ|段階的に|順を追って|歩ずつ|
        단계별|차근차근|단계적으로|
        шаг за шагом|пошагов*|обоснуй*|рассужд*|
        schritt für schritt|schrittweise|begründe|
        paso a paso|razona|justifica|
        passo a passo|raciocine|justifique|
        خطوة بخطوة|علل|
        étape par étape|justifie|raisonne
    """,
    "solve": """
        how many ways|in how many ways|how many possible|how many arrangements|
        how many different|how many combinations|多少种|几种方法|有多少种|何通り|몇 가지|
        сколькими способами|сколько способов|wie viele möglichkeiten|auf wie viele arten|
        cuántas maneras|cuántas formas|de cuántas|quantas maneiras|quantas formas|
        de combien de façons|combien de façons|كم طريقة|
        solve|solving|find all|determine|calculate|compute|evaluate the|how many ways|
        expected value|minimize|maximize|optimal|
        find the value|find the number|closed form|
        求解|解方程|计算|求出|最大值|最小值|
        解け|解いて|求め|計算|
        풀어|풀이|구하|계산|최댓값|최솟값|
        реши|решите|найди|найдите|вычисли*|
        löse|lösen|berechne|bestimme|finde alle|
        resuelve|resolver|calcula|calcular|determina|encuentra|encuentra todos|encuentra todas|
        resolva|resolver|calcule|calcular|determine|encontre|encontra todas|encontre todas|
        encontra todos|encontre todos|trouve tous|trouve toutes|trouvez tous|trouvez toutes|
        حل المعادلة|حل المسألة|حل هذه|حل هذا|احسب|أوجد|اوجد|
        résous|résoudre|calcule|calculer|détermine|trouve|trouver
    """,
    "math": """
        how many ways|in how many ways|how many possible|how many arrangements|
        how many different|how many combinations|多少种|几种方法|有多少种|何通り|몇 가지|
        сколькими способами|сколько способов|wie viele möglichkeiten|auf wie viele arten|
        cuántas maneras|cuántas formas|de cuántas|quantas maneiras|quantas formas|
        de combien de façons|combien de façons|كم طريقة|
        probabilities|theorem|lemma|corollary|integral|integrals|derivative|derivatives|
        equation|equations|inequality|inequalities|polynomial|polynomials|prime number|
        prime numbers|primes|irrational|
        infinitely many|matrix|matrices|eigenvalue|eigenvalues|eigenvector|determinant|
        probability|combinatorics|permutations|combinations|modulo|gcd|lcm|divisible|
        sequence|series|converge|converges|convergence|limit|triangle|geometry|circle|
        integer|integers|real numbers|natural numbers|logarithm|topology|manifold|
        recurrence|induction|big-o|np-hard|np-complete|halting problem|asymptotic|
        complexity|function f|f(x)|sqrt|square root|vector space|group theory|sum of|
        such that|for all n|for every n|all real|all integers|all solutions|trailing zeros|
        factorial|remainder|divisible by|angle|angles|夹角|角度|ángulo|ângulo|winkel|угол*|زاوية|
        定理|引理|积分|导数|方程|多项式|质数|素数|无理数|矩阵|特征值|概率|数列|
        级数|收敛|极限|三角形|整数|对数|归纳法|复杂度|
        積分|微分|方程式|多項式|無理数|行列式|固有値|確率|級数|収束|極限|帰納法|
        적분|미분|방정식|부등식|다항식|소수|무리수|행렬|고유값|확률|수열|급수|수렴|
        극한|삼각형|정수|귀납법|
        теорем*|лемм*|интеграл*|производн*|уравнени*|неравенств*|многочлен*|простых чисел|
        простое число|иррациональн*|матриц*|собственные значения|собственное значение|вероятност*|
        последовательност*|предел*|треугольник*|целых чисел|индукци*|
        theorem|lemma|integral|ableitung|gleichung|ungleichung|polynom|primzahl|
        primzahlen|irrational|matrix|eigenwert|wahrscheinlichkeit|grenzwert|
        dreieck|ganze zahlen|induktion|
        teorema|lema|integral|derivada|ecuación|ecuaciones|desigualdad|polinomio|primo|
        primos|irracional|matriz|autovalor|probabilidad|sucesión|serie|límite|triángulo|
        enteros|inducción|
        teorema|lema|integral|derivada|equação|equações|desigualdade|polinômio|primo|
        primos|irracional|matriz|autovalor|probabilidade|sequência|série|limite|triângulo|
        inteiros|indução|
        نظرية|مبرهنة|تكامل|مشتقة|معادلة|متباينة|كثيرة الحدود|عدد أولي|أعداد أولية|غير نسبي|
        مصفوفة|احتمال|متتالية|متسلسلة|مثلث|أعداد صحيحة|استقراء|
        théorème|lemme|intégrale|dérivée|équation|équations|inégalité|polynôme|nombres premiers|
        irrationnel|matrice|valeur propre|probabilité|série|limite|triangle|entiers|récurrence
    """,
    "puzzle": """
        puzzle|puzzles|riddle|riddles|brain teaser|brainteaser|logic puzzle|knights and knaves|
        syllogism|premises|argument valid|this argument|logically follow|logically follows|
        explain the logic|logically valid|valid argument|necessarily true|must be true|
        is this proof correct|is the proof correct|is this proof valid|check this proof|
        flaw in this proof|error in this proof|这个证明对吗|证明是否正确|証明は正しい|증명이 맞|
        доказательство верно|ist dieser beweis|esta demostración es correcta|
        esta prova está correta|cette preuve est-elle correcte|هل هذا البرهان صحيح|
        knight|knave|knaves|liar|liars|truth-teller|truth teller|always lies|always tells the truth|
        zebra puzzle|sudoku|monty hall|game theory|nash equilibrium|prisoners|hats|
        exactly one of|who is lying|who owns|each person|
        谜题|逻辑题|谜语|说谎|说真话|博弈|纳什均衡|
        パズル|なぞなぞ|論理パズル|嘘つき|正直者|ゲーム理論|
        퍼즐|수수께끼|논리 퍼즐|거짓말쟁이|게임 이론|
        головоломк*|загадк*|лжец*|рыцар*|теория игр|теории игр|взвешиван*|
        rätsel|logikrätsel|lügner|spieltheorie|
        acertijo|rompecabezas|mentiroso|mentirosos|teoría de juegos|
        charada|quebra-cabeça|enigma|mentiroso|mentirosos|teoria dos jogos|
        لغز|أحجية|كاذب|نظرية الألعاب|
        énigme|casse-tête|menteur|menteurs|théorie des jeux
    """,
    "optimum": """
        minimum|minimal|fewest|shortest possible|as few as possible|least number|
        smallest possible|largest possible|maximum number|optimal|faster|at least two|
        最少|最短|最小|最多|最快|最少要|
        最小値|最短で|最も少ない|
        최소|최단|최대|최소한|
        минимальн*|наименьш*|наибольш*|быстрее всего|
        möglichst wenig{en,e}|minimal{e,en}|kürzeste|mindestens zwei|
        mínimo|mínima|menor número|en solo|al menos dos|
        mínimo|mínima|menor número|pelo menos dois|
        أقل عدد|أدنى|على الأقل|
        le moins|au minimum|au bout de combien|le plus court
    """,
    "constraint": """
        constraint|constraints|restrição|restrições|restricción|restricciones|contrainte|
        contraintes|bedingung|bedingungen|ограничени*|约束|条件|制約|条件を|제약|조건|شرط|قيود|
        exactly|only one|at most|at least|no more than|neither|nor|must|cannot|can't|
        not allowed|each|every|no two|consecutive|in a row|before|after|
        恰好|只有|最多|至少|不能|必须|每个|相邻|
        ちょうど|だけ|少なくとも|以上|以下|しか|
        정확히|한 명은|최소|적어도|반드시|
        ровно|только|не более|не менее|нельзя|должен|должна|кажд*|
        genau|höchstens|mindestens|nur|darf nicht|jede|jeder|
        exactamente|como máximo|al menos|solo|cada|no puede|
        exatamente|no máximo|pelo menos|só|cada|não pode|não podem|
        بالضبط|على الأقل|على الأكثر|فقط|لا يعمل|كل|
        exactement|au plus|au moins|seulement|chaque|ne peut pas|une seule|un seul
    """,
    "diagnose": """
        find the cause|root cause|what's going on|whats going on|what is going on|
        what's wrong|what is wrong|fix it|fix this|fix the bug|fix the cause|diagnose|
        diagnosis|troubleshoot|debug this|review this|code review|review the|for bugs|
        why does it fail|why is it slow|what should i change|
        找出原因|原因|排查|修复|诊断|审查|審查|
        原因を|原因は|修正して|直して|レビュー|
        원인|해결책|고쳐|수정해|리뷰|
        причин*|исправь|исправить|почему падает|ревью|
        ursache|behebe|beheben|finde den fehler|
        la causa|arregla|corrige el|encuentra el error|revisa|
        a causa|encontra a causa|corrija|corrige|correção|
        السبب|أصلح|اصلح|
        la cause|corrige-le|corriger|le scénario|diagnostic
    """,
    "complete": """
        complete|completed|full|entire|whole|every|comprehensive|end-to-end|
        all of it|everything|
        完整|全部|全套|全面|全链路|每个|每部分|整个|所有|
        完全な|すべて|全て|全部|
        전부|모든|완전한|전체|
        полн*|целиком|всё|каждый|каждую|каждой|
        vollständig{e,en,es}|komplett{e,en}|alle|jede|
        completo|completa|entero|toda|todo|cada|
        completo|completa|inteiro|inteira|tudo|cada|
        كامل|كاملة|متكامل|متكاملة|كل|
        complet|complète|entier|entière|chaque|tout
    """,
    "document": """
        policy|handbook|course|curriculum|business plan|proposal|specification|whitepaper|
        playbook|runbook|manual|report|memo|presentation|plan|migration plan|concept|
        方案|计划|手册|课程|报告|策略|预案|政策|
        計画|手順書|報告書|方針|マニュアル|
        계획|보고서|정책|매뉴얼|
        план*|политик*|отчёт*|регламент*|
        konzept|richtlinie|handbuch|kurs|bericht|notfallhandbuch|
        plan|política|manual|curso|informe|
        plano|política|manual|curso|relatório|apresentação|
        خطة|سياسة|دليل|تقرير|
        politique|plan|manuel|cours|rapport
    """,
    "agentic": """
        run the|open a pr|pull request|commit|push|deploy|send|post|upload|download|
        fetch|scrape|browse|search the web|look up|pull their|check all|create a ticket|
        file a ticket|tracker|slack|jira|email each|send each|spreadsheet|crm|drive|
        拉取|发送|提交|部署|上传|下载|
        送信|投稿|デプロイ|
        가져와|올려|보내|배포|슬랙|
        проверь все|заведи|отправ*|
        sende|lade|
        envía|envia|sube|
        cruza|prepara|envia|
        أرسل|ابحث|أعدّ|
        envoie|publie
    """,
    "execute": """
        implement it|implement all|implement everything|build it|do it now|do it all|
        do all of it|do all of this|do everything|go ahead|go for it|all of this|proceed|
        全部实现|都实现|实现吧|全部実装|実装して|전부 구현|구현해|
        реализуй всё|сделай всё|setze alles um|implementiere alles|implementa todo|
        implementa tudo|faz tudo|نفّذ|نفذ|implémente tout
    """,
    "tiny_creative": """
        haiku|joke|jokes|pun|limerick|tongue twister|nickname|name for|
        笑话|段子|俳句|ジョーク|だじゃれ|농담|шутк*|анекдот*|witz|chiste|piada|نكتة|blague
    """,
    "listing": """
        ideas|names|questions|titles|tips|examples|suggestions|slogans|headlines|
        点子|标题|个想法|アイデア|案を|아이디어|제목|идей|идеи|вариант*|ideen|vorschläge|
        ideas|nombres|títulos|ideias|nomes|títulos|أفكار|عناوين|idées|noms|titres
    """,
    "puzzle_vocab": """
        relabel|mislabeled|mislabelled|every label|without looking|fake coin|coins|
        balance scale|weighings|heavier or lighter|flashlight|cross the river|river crossing|
        jugs|snail|widgets|pigeonhole|handshakes|dominoes|chessboard|tells the truth|
        cross a river|across the river|the boat holds|wolf|cabbage|missionaries|cannibals|
        light bulb|three switches|interrupteurs|ampoule|interruptores|bombilla|lâmpada|
        glühbirne|выключател*|лампочк*|灯泡|電球|전구|مصباح|culprit|who is the culprit|
        犯人|범인|преступник*|culpable|culpado|coupable|الجاني|거짓말|
        should i switch|the host opens|switch doors|
        therefore|necessarily|logically|heavier|lighter|
        逻辑上|轻还是重|较轻|较重|更重|更轻|称三次|論理的に|重い|軽い|논리적으로|무거운|가벼운|
        логически|тяжелее|легче|logisch|schwerer|leichter|lógicamente|más pesada|más ligera|
        logicamente|mais pesada|mais leve|منطقيا|أثقل|أخف|logiquement|plus lourde|plus légère|
        telling the truth|only one of them|one of them is lying|true statement|false statement|
        one true|one false|who did it|figure out who|who is lying|
        手电筒|过桥|过河|砝码|天平|硬币|说了真话|说真话|蜗牛|
        天秤|硬貨|本当のこと|嘘をついて|正直者|
        저울|동전|진실만|거짓만|
        весы|монет*|переправ*|говорит правду|
        waage|münzen|kanister|sagt die wahrheit|
        balanza|pesadas|monedas|caracol|dice la verdad|
        balança|moedas|pesagens|diz a verdade|
        كفتين|عملات|يقول الحقيقة|
        pièces|escargot|puits|dit la vérité|
        timetable|shifts|night shifts|rota|duty roster|dienstplan|schichten|turnos|plantões|
        مناوبات|смены|排班|值班表|シフト表|근무표|
        a train leaves|train leaves|average speed|km h|mph|durchschnittsgeschwindigkeit|
        velocidad media|velocidade média|vitesse moyenne|средняя скорость|平均速度|平均時速|
        평균 속도|السرعة المتوسطة
    """,
    # ---- gates for costlier checks --------------------------------------------------
    "word_unit": """
        words|слов|palabras|palavras|mots|wörter|단어|كلمة|字|語
    """,
}


# ---- matcher ----------------------------------------------------------------------

BITS: dict[str, int] = {name: 1 << i for i, name in enumerate(CONCEPTS)}
NOTATION = 1 << len(CONCEPTS)  # pseudo-concept: maths notation (x^2, 3n, ∑, ≤, π ...)

# Hyphens separate words too: "step-by-step" is the phrase "step by step".
_ASCII_PUNCT = b"\"'()[]{}<>,.;:!?/\\|*`~@#$%^&=_-"
_BYTE_TABLE = bytes.maketrans(_ASCII_PUNCT, b" " * len(_ASCII_PUNCT))
# The same, also blanking every non-ASCII byte: leaves the Latin words of a CJK text.
_LATIN_TABLE = _BYTE_TABLE[:128] + b" " * 128
_DENSE_SCAN = (160, 80)  # head and tail of a long CJK or Korean text the bigram scan reads
# UTF-8 lead byte -> class, so one translate tells which scripts a text uses: P ¡«»¿²³,
# L accented Latin, G Greek, Y Cyrillic, A Arabic, E punctuation and maths operators,
# C kana and Han, H Hangul; "." anything else.
_LEAD_CLASS = (
    b"." * 0xC2
    + b"P"
    + b"L" * 11
    + b"GG"
    + b"YYYY"
    + b"...."
    + b"AAAA"
    + b"......"
    + b"E"
    + b"C" * 7
    + b"H" * 4
    + b"." * (256 - 0xEE)
)
# Membership of an int in bytes is several times cheaper than of a one-byte bytes.
_A, _C, _E, _G, _H, _L, _P, _Y = b"ACEGHLPY"
# Non-ASCII punctuation next to words, by the class of its UTF-8 lead byte: ¡ « » ¿;
# – — ‘ ’ “ ” „ …; Arabic ، ؛ ؟. A text holds a group only if it holds its class.
_WIDE_PUNCT = (
    (_P, tuple(mark.encode() for mark in "¡«»¿")),
    (_E, tuple(mark.encode() for mark in "–—‘’“”„…")),
    (_A, tuple(mark.encode() for mark in "،؛؟")),
)
_ALL_CLASSES = bytes(code for code, _ in _WIDE_PUNCT)
if any(mark[:1].translate(_LEAD_CLASS)[0] != code for code, marks in _WIDE_PUNCT for mark in marks):
    raise RuntimeError("each _WIDE_PUNCT group must hold marks of its lead-byte class")
_SCRIPT_OF = (
    (_C, re.compile("[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")),
    (_H, re.compile("[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")),
    (_A, re.compile("[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")),
)
# Prefixes an Arabic word may carry: a conjunction, then an article or a preposition.
_ARABIC_PREFIXES = (("و", "ف"), ("ال", "بال", "لل", "ب", "ل"))
_BRACES = re.compile(r"\{([^{}]*)\}")
# Words too common to index a phrase by.
_COMMON = frozenset(
    b"a an and are as at be by do does for from how i in is it me my of on or so that the "
    b"this to was what when where which who why with you your".split()
)
# Maths notation: operators (U+2200..U+22FF), ² ³, π θ (by lead-byte class); powers like
# x^2; terms like 3x or 2n. Each regex opens with a literal or a rare byte.
_MATH_SYMBOLS = (
    (_E, (b"\xe2\x88", b"\xe2\x89")),
    (_P, (b"\xc2\xb2", b"\xc2\xb3")),
    (_G, (b"\xcf\x80", b"\xce\xb8")),
)
_POWER = re.compile(rb"\^\(?-?[0-9a-z]")
_TERM = re.compile(rb"[0-9][a-z]\b(?! ?(?:am|pm|kb|mb|gb|st|nd|rd|th)\b)")


def utf8(text: str) -> bytes:
    """``text`` as UTF-8 (lone surrogates pass through rather than raise)."""
    return text.encode("utf-8", "surrogatepass")


def _expand(entry: str) -> list[str]:
    """``prov{e,es}`` -> ``["prove", "proves"]`` (one brace group per entry)."""
    found = _BRACES.search(entry)
    if found is None:
        return [entry]
    head, tail = entry[: found.start()], entry[found.end() :]
    return [head + option + tail for option in found.group(1).split(",")]


def _tokens(raw: bytes, classes: bytes = _ALL_CLASSES) -> list[bytes]:
    """The words of UTF-8 ``raw``, split at spaces and at punctuation: ASCII punctuation,
    and the non-ASCII punctuation of the lead-byte ``classes`` it holds (all by default)."""
    text = raw.translate(_BYTE_TABLE)
    for code, marks in _WIDE_PUNCT:
        if code in classes:
            for mark in marks:
                if mark in text:
                    text = text.replace(mark, b" ")
    return text.split()


def _trie_regex(keys: Iterable[bytes]) -> bytes:
    """A bytes alternation shaped as a trie, longest continuation first. Optional tails
    are written ``(?:...|)``: ``(?:...)?`` compiles to a REPEAT allocated per attempt."""
    root: dict[Any, Any] = {}
    for key in keys:
        node = root
        for byte in key:
            node = node.setdefault(byte, {})
        node[None] = {}

    def emit(node: dict[Any, Any]) -> str:
        children = sorted((byte, child) for byte, child in node.items() if byte is not None)
        branches = [f"\\x{byte:02x}" + emit(child) for byte, child in children]
        if not branches:
            return ""
        if None in node:
            return "(?:" + "|".join(branches) + "|)"
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return emit(root).encode("ascii")


class _Bigrams:
    """Substring entries of one unsegmented script (see the module docstring)."""

    __slots__ = ("index", "pattern", "singles", "starts")

    def __init__(self, table: dict[str, int]) -> None:
        pairs = [key for key in table if len(key) > 1]
        firsts = "".join(sorted({key[0] for key in pairs}))
        seconds = "".join(sorted({key[1] for key in pairs}))
        # Each match is empty, so bigrams overlap ("X分析" still yields "分析"), and the
        # captured bigram comes back as one string (no tuple of characters to join).
        self.pattern = re.compile(f"(?=([{re.escape(firsts)}][{re.escape(seconds)}]))")
        # bigram -> (bits of the two-character entry, longer entries starting with it)
        exact: dict[str, int] = {}
        longer: dict[str, list[tuple[str, int]]] = {}
        for key in pairs:
            if len(key) == 2:
                exact[key] = table[key]
            else:
                longer.setdefault(key[:2], []).append((key, table[key]))
        self.index = {
            bigram: (exact.get(bigram, 0), tuple(longer.get(bigram, ())))
            for bigram in set(exact) | set(longer)
        }
        self.starts = frozenset(self.index)
        self.singles = tuple((key, bits) for key, bits in table.items() if len(key) == 1)

    def scan(self, low: str) -> int:
        head, tail = _DENSE_SCAN
        if len(low) > head + tail:
            low = low[:head] + "\n" + low[-tail:]
        bits = 0
        for bigram in self.starts.intersection(self.pattern.findall(low)):
            exact, longer = self.index[bigram]
            bits |= exact
            for key, key_bits in longer:
                if key in low:
                    bits |= key_bits
        for key, key_bits in self.singles:
            if key in low:
                bits |= key_bits
        return bits


_Entries = dict[bytes, tuple[int, tuple[tuple[str, int], ...]]]


def _compile() -> tuple[
    _Entries, tuple[tuple[int, _Bigrams], ...], re.Pattern[bytes], dict[bytes, int]
]:
    words: dict[bytes, int] = {}
    phrases: dict[bytes, list[tuple[str, int]]] = {}
    substrings: dict[int, dict[str, int]] = {_C: {}, _H: {}}
    stems: dict[bytes, int] = {}

    def add_stem(text: str, bit: int) -> None:
        key = b" ".join(_tokens(utf8(text)))
        stems[key] = stems.get(key, 0) | bit

    for concept, spec in CONCEPTS.items():
        bit = BITS[concept]
        for raw_entry in spec.split("|"):
            for entry in _expand(" ".join(raw_entry.split())):
                script = next((code for code, rx in _SCRIPT_OF if rx.search(entry)), None)
                if script == _A:
                    add_stem(entry, bit)
                elif script is not None:
                    substrings[script][entry] = substrings[script].get(entry, 0) | bit
                elif entry.endswith("*"):
                    if entry.isascii():  # plain ASCII text must not pay for stems
                        raise ValueError(f"ASCII stem in lexicon: {entry!r}")
                    add_stem(entry[:-1], bit)
                else:
                    tokens = _tokens(utf8(entry))
                    if len(tokens) == 1:
                        words[tokens[0]] = words.get(tokens[0], 0) | bit
                    elif tokens:
                        index = max(tokens, key=lambda t: (len(t) > 1 and t not in _COMMON, len(t)))
                        phrase = " " + b" ".join(tokens).decode() + " "
                        phrases.setdefault(index, []).append((phrase, bit))
    entries = {
        word: (words.get(word, 0), tuple(phrases.get(word, ())))
        for word in set(words) | set(phrases)
    }
    bigrams = tuple((code, _Bigrams(table)) for code, table in substrings.items())
    # A stem starts a word (tokens are re-joined with spaces behind a leading space), maybe
    # behind Arabic prefixes; empty alternatives, not "?", avoid a REPEAT per attempt.
    prefixes = b"".join(
        b"(?:" + b"|".join(re.escape(utf8(p)) for p in group) + b"|)" for group in _ARABIC_PREFIXES
    )
    stem_re = re.compile(b" " + prefixes + b"(" + _trie_regex(stems) + b")")
    return entries, bigrams, stem_re, stems


_ENTRIES, _BIGRAMS, _STEM_RE, _STEM_BITS = _compile()
_VOCAB = frozenset(_ENTRIES)


def _has_maths(raw: bytes, classes: bytes) -> bool:
    for code, symbols in _MATH_SYMBOLS:
        if code in classes and (symbols[0] in raw or symbols[1] in raw):
            return True
    if 94 in raw and _POWER.search(raw):  # ^
        return True
    return (61 in raw or 43 in raw) and _TERM.search(raw) is not None  # = +


def scan(low: str) -> tuple[int, bytes, int]:
    """Concept bits mentioned in lower-cased ``low`` (with :data:`NOTATION`), ``low`` as
    UTF-8, and how many CJK and Hangul characters it holds."""
    if low.isascii():
        # The common case, inlined: no scripts to classify, no stems, no bigrams.
        raw = low.encode()
        tokens = raw.translate(_BYTE_TABLE).split()
        # _has_maths without lead-byte classes: x^2 (^), or a term like 3n near = or +.
        power = 94 in raw and _POWER.search(raw) is not None
        term = not power and (61 in raw or 43 in raw) and _TERM.search(raw) is not None
        bits = NOTATION if power or term else 0
        padded = ""
        for word in _VOCAB.intersection(tokens):
            word_bits, options = _ENTRIES[word]
            bits |= word_bits
            for phrase, bit in options:
                if not bits & bit:
                    if not padded:
                        padded = " " + b" ".join(tokens).decode() + " "
                    if phrase in padded:
                        bits |= bit
        return bits, raw, 0
    raw = utf8(low)
    ascii_only = len(raw) == len(low)
    classes = b"" if ascii_only else raw.translate(_LEAD_CLASS)
    dense = classes.count(_C) + classes.count(_H) if classes else 0
    # The Latin words of a CJK or Korean text, even glued: "PythonでHello", "XLOOKUP을".
    tokens = raw.translate(_LATIN_TABLE).split() if dense else _tokens(raw, classes)
    bits = NOTATION if _has_maths(raw, classes) else 0
    padded = ""
    for word in _VOCAB.intersection(tokens):
        word_bits, options = _ENTRIES[word]
        bits |= word_bits
        for phrase, bit in options:
            if not bits & bit:
                if not padded:
                    padded = " " + b" ".join(tokens).decode("utf-8", "replace") + " "
                if phrase in padded:
                    bits |= bit
    if not ascii_only:
        for code, bigrams in _BIGRAMS:
            if code in classes:
                bits |= bigrams.scan(low)
        if _Y in classes or _L in classes or _A in classes:
            for found in _STEM_RE.findall(b" " + b" ".join(tokens)):
                bits |= _STEM_BITS[found]
    return bits, raw, dense
