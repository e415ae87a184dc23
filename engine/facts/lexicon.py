"""Word lists the fact rules and the surveillance gate read: sensitive topics, people, businesses,
trouble words. Lower-case; multi-word entries are matched as phrases."""

# Sensitive categories. A clause that mentions any of these is never a fact, whoever it is about.
SENSITIVE: dict[str, frozenset[str]] = {
    # Single words here; phrases (matched whole, never word by word) in the list below.
    "health": frozenset(
        """
        chemo chemotherapy cancer tumour tumor radiotherapy oncologist diabetes diabetic insulin
        surgery hospital hospitalised hospitalized diagnosis diagnosed doctor doctors gp
        therapy therapist medication medications meds prescription prescribed illness
        sickness disease disability disabled wheelchair blind deaf autism autistic adhd dyslexia
        dyslexic depression depressed anxiety anxious bipolar ptsd ocd anorexia bulimia allergy
        allergies allergic intolerance intolerant coeliac celiac ibs crohn's crohns arthritis
        migraine migraines asthma epilepsy epileptic seizure seizures stroke dementia alzheimer's
        alzheimers parkinson's parkinsons hiv injury injured fracture rehab sober sobriety
        alcoholic addiction addict recovering cholesterol chronic disorder symptoms surgeon
        cardiologist psychiatrist counselling counseling medical physio physiotherapy
        palpitations insomnia heartburn reflux ulcer kidney liver
        """.split()
        + [
            "heart attack",
            "blood pressure",
            "mental health",
            "panic attacks",
            "eating disorder",
            "hearing aid",
            "caffeine sensitivity",
            "my condition",
            "health reasons",
            "health issues",
            "health problems",
            "on medication",
            "i'm ill",
            "im ill",
            "i am ill",
            "been ill",
            "was ill",
            "feeling ill",
            "fell ill",
            "ill health",
            "seriously ill",
            "terminally ill",
            r"re:sick(?!\s+(?:of|and tired))",
            "sickness",
            "a cold",
            "the flu",
            "covid",
            "fever",
            "a headache",
            "headaches",
            "infection",
            "virus",
            "unwell",
            "poorly",
            "eczema",
            "psoriasis",
            "dermatitis",
            "rash",
            "acne",
            "hay fever",
            "hayfever",
            "back pain",
            "bad back",
            "chronic pain",
            "joint pain",
            "in pain",
            "fibromyalgia",
            "lupus",
            "multiple sclerosis",
            "cerebral palsy",
            "down syndrome",
            "downs syndrome",
            "mobility issues",
            "mobility scooter",
            "visually impaired",
            "partially sighted",
            "hard of hearing",
            "neurodivergent",
            "dyspraxia",
            "tourette",
            "tourettes",
            "menopause",
            "thyroid",
            "hormone",
            "hormones",
            "chronic illness",
            "wheelchair user",
            "carer",
            "disability benefit",
            "long covid",
            "concussion",
            "broken leg",
            "broken arm",
            "broken wrist",
            "broken ankle",
            "pacemaker",
            "dialysis",
            "transplant",
            "hospice",
        ]
    ),
    "pregnancy": frozenset(
        [
            "pregnant",
            "pregnancy",
            "expecting a baby",
            "we're expecting",
            "were expecting",
            "i'm expecting",
            "im expecting",
            "ivf",
            "miscarriage",
            "miscarried",
            "fertility",
            "trimester",
            "maternity",
            "morning sickness",
            "breastfeeding",
            "due date",
            "baby on the way",
            # "im due in august": a birth, said of oneself (a bill is never "I'm due").
            r"re:(?:i'?m|i\s+am)\s+due\s+(?:in|on|any|around|early|late|next)",
            "paternity",
            "newborn",
            "stillbirth",
        ]
    ),
    "religion": frozenset(
        """
        ramadan eid lent diwali hanukkah chanukah passover yom kippur rosh hashanah sabbath
        shabbat kosher halal church mosque synagogue temple gurdwara pray praying prayer prayers
        faith allah bible quran koran torah muslim muslims christian christians
        jewish jew jews hindu hindus sikh sikhs buddhist buddhists catholic catholics protestant
        mormon atheist religious religion orthodox evangelical baptist methodist pastor priest
        imam rabbi vicar congregation parish worship iftar suhoor
        """.split()
        + ["fasting for", "we fast", "i fast", "i'm fasting", "im fasting", "we're fasting"]
    ),
    "politics": frozenset(
        """
        vote voted voting voter election elections ballot labour tory tories democrat democrats
        republican republicans maga trump biden brexit leftist socialist communist political
        politics protest protesting activist activism conservatives liberals parliament
        canvass canvassing canvasser canvassers by-election by-elections byelection hustings
        """.split()
        + [
            "lib dem",
            "lib dems",
            "green party",
            "reform uk",
            "my party",
            "the left",
            "the right wing",
            "right-wing",
            "left-wing",
        ]
    ),
    "sexuality": frozenset(
        """
        gay lesbian bisexual queer lgbt lgbtq lgbtqia trans transgender nonbinary non-binary
        homosexual heterosexual asexual pansexual
        """.split()
        + ["same-sex", "coming out", "came out", "pride month", "my pronouns"]
    ),
    "ethnicity": frozenset(
        """
        ethnic ethnicity racial race latino latina latinx hispanic indigenous aboriginal
        immigrant immigrants refugee refugees asylum migrant migrants black-owned
        """.split()
        + [
            "mixed race",
            "mixed-race",
            "people of colour",
            "people of color",
            "person of colour",
            "person of color",
            "as a black",
            "as a white",
            "as an asian",
            "as a brown",
            "first nations",
            "minority-owned",
            "bame",
        ]
    ),
    "union": frozenset(
        """
        union unions unionised unionized picket picketing teamsters unison
        """.split()
        + [
            "on strike",
            "going on strike",
            "shop steward",
            "union rep",
            "collective bargaining",
            "trade union",
            "industrial action",
            "member of",
            "members of",
            "aslef",
            "rmt",
            "gmb",
            "usdaw",
            "nasuwt",
            "cwu",
            "unite the union",
            "bectu",
            "equity union",
        ]
    ),
    "money_trouble": frozenset(
        """
        debt debts indebted bankrupt bankruptcy insolvent insolvency overdraft overdrawn arrears
        evicted eviction repossessed repossession unemployed unemployment jobless redundant
        redundancy furlough furloughed payday foreclosure skint poverty loan loans
        """.split()
        + [
            "can't afford",
            "cant afford",
            "cannot afford",
            "couldn't afford",
            "couldnt afford",
            "money is tight",
            "money's tight",
            "tight on money",
            "short on money",
            "short of money",
            "strapped for cash",
            "struggling financially",
            "money trouble",
            "money troubles",
            "money problems",
            "financial trouble",
            "financial difficulties",
            "financial hardship",
            "cash flow problems",
            "lost my job",
            "lost our jobs",
            "lost his job",
            "lost her job",
            "laid off",
            "let go",
            "got fired",
            "been fired",
            "was fired",
            "out of work",
            "between jobs",
            "on benefits",
            "universal credit",
            "food bank",
            "food stamps",
            "behind on rent",
            "behind on bills",
            "cost of living",
            "going under",
            "going bust",
            "went bust",
            "closing down",
            "can't pay",
            "cant pay",
            "unable to pay",
            "struggling to pay",
            "struggling to make ends meet",
            "ends meet",
            "paycheck to paycheck",
            "hard times",
            "tough times",
            "lost everything",
            "i'm broke",
            "im broke",
            "i am broke",
            "we're broke",
            "we are broke",
            "so broke",
            "flat broke",
            "dead broke",
        ]
    ),
    "bereavement_divorce": frozenset(
        """
        divorce divorced divorcing separated separation widow widowed widower funeral bereavement
        bereaved grief grieving mourning condolences memorial died death deceased
        """.split()
        + [
            "passed away",
            "lost my mum",
            "lost my mom",
            "lost my dad",
            "lost my husband",
            "lost my wife",
            "lost my partner",
            "lost my son",
            "lost my daughter",
            "lost my brother",
            "lost my sister",
            "lost my father",
            "lost my mother",
            "late husband",
            "late wife",
            "split up",
            "broke up",
            "break up",
            "breakup",
            "break-up",
            "ex-wife",
            "ex-husband",
            "ex wife",
            "ex husband",
            "my ex",
        ]
    ),
    "criminal_record": frozenset(
        """
        prison jail jailed inmate convicted conviction convictions arrested arrest parole
        probation offender felony felon dui incarcerated incarceration custody sentenced
        """.split()
        + [
            "criminal record",
            "did time",
            "doing time",
            "court case",
            "community service",
            "police record",
            "ankle tag",
        ]
    ),
}

# Words that are sensitive only when they are a word of their own kind (the parser's part of
# speech): "we fast" is religion, "fast shipping" is not; "I'm broke" is money trouble, "it
# broke" is a pain point.
SENSITIVE_ONLY_AS: dict[str, tuple[str, frozenset[str]]] = {
    "broke": ("money_trouble", frozenset({"ADJ"})),
    "fast": ("religion", frozenset({"VERB"})),
    "fasting": ("religion", frozenset({"VERB", "NOUN"})),
}

# Nationalities and peoples: fine as a coffee's origin ("I love the Ethiopian"), sensitive when
# said of a person ("I'm Kenyan", "as a Kenyan woman").
DEMONYMS = frozenset(
    """
    african american arab asian australian bangladeshi brazilian british burundian canadian
    caribbean chinese colombian congolese costa cuban dutch egyptian english ethiopian european
    filipino french german ghanaian greek guatemalan haitian honduran indian indonesian iranian
    irish italian jamaican japanese kenyan korean lebanese mexican moroccan nepali nicaraguan
    nigerian pakistani palestinian panamanian peruvian polish portuguese puerto romanian russian
    rwandan salvadoran scottish senegalese somali spanish sudanese syrian tanzanian thai turkish
    ugandan ukrainian vietnamese welsh yemeni zambian zimbabwean black white brown
    """.split()
)

# People other than the customer. A clause that mentions one is about someone else.
PEOPLE = frozenset(
    """
    husband wife hubby wifey partner partners boyfriend girlfriend bf gf fiance fiancee fiancé
    fiancée spouse mum mom mummy mommy mother dad daddy father parent parents stepmum stepmom
    stepdad son sons daughter daughters kid kids child children baby babies toddler teen
    teenager brother brothers sister sisters sibling siblings twin twins aunt auntie uncle
    cousin cousins niece nephew grandma grandmother grandpa grandfather granny gran nan nana
    grandad granddad grandson granddaughter grandkids grandchildren in-laws inlaws
    mother-in-law father-in-law sister-in-law brother-in-law friend friends mate mates buddy
    pal bestie neighbour neighbours neighbor neighbors flatmate roommate housemate landlord
    landlady tenant boss bosses colleague colleagues coworker coworkers co-worker co-workers
    supervisor employer cofounder co-founder bride brides groom grooms bridesmaid
    bridesmaids godmother godfather godson goddaughter stepson stepdaughter ex
    he she him her his hers himself herself he's she's he'd she'd he'll she'll
    """.split()
)
# Common first names that are not also everyday words ("mark", "rose", "will", "june" are left
# out): a name in a clause means it is about someone else ("i bought the harness for jake").
FIRST_NAMES = frozenset(
    """
    aaron abdul adam adrian ahmed aidan aisha alan albert alex alexander alexandra alfie alice
    alison amanda amber amelia amir amy andrea andrew angela anna anne anthony antonio archie
    arthur ashley barbara becky ben benjamin beth bethany bob brandon brian caitlin callum
    carl carlos carol caroline catherine charles charlie charlotte chloe chris christine
    christopher claire connor craig daniel danielle darren dave david deborah debbie denise
    dennis diana donna dylan edward eleanor elizabeth ella ellie emily emma eric erin ethan
    fatima fiona frances francesca frank freddie gary gavin george georgia gemma graham greg
    hannah harry harvey heather helen henry holly ian isaac isabel isabella isla jack jacob
    jake james jamie jane janet jason jeff jennifer jenny jeremy jess jessica jim jo joanne joe
    john jon jonathan jordan joseph josh joshua julia julie justin karen kate katie kelly kevin
    kieran kim laura lauren leah lee leo liam lily linda lisa lucy luke maria mark marcus
    martin mary matt matthew megan melissa michael michelle mike mohammed muhammad molly nancy
    natalie nathan neil nick nicola nicole noah oliver olivia oscar owen patrick paul paula
    peter philip priya rachel rebecca richard rob robert ruth ryan sally sam samantha samuel
    sandra sara sarah scott sean sharon simon sophie stephen steve steven stuart susan tara
    thomas tim timothy tom tony tracy victoria vincent wendy william zoe zara
    """.split()
)
# Groups that are fine as what a customer has ("we have 20 staff") but not as who says or
# wants something ("my staff love the decaf").
GROUPS = frozenset(
    """
    staff team employees employee members member customers customer clients client guests guest
    students student patients patient residents resident volunteers crew they them their theirs
    someone somebody everyone everybody anyone anybody nobody people guy guys lady ladies
    man men woman women girl girls boy boys gentleman folks
    """.split()
)
# Family roles a customer might give as their own role ("I'm a mum of three"): they tell of
# other people, so they are third-party information.
FAMILY_ROLES = frozenset(
    """
    mum mom mother dad father parent grandma grandmother grandpa grandfather granny wife
    husband widow widower stepmum stepmom stepdad single
    """.split()
)

# Kinds of business ("I run a bakery", "we're a coworking space").
BUSINESSES = frozenset(
    """
    bakery cafe café coffeeshop shop store restaurant bar pub bistro deli diner salon barbershop
    barbers spa studio gym office agency practice clinic firm company business startup start-up
    stall truck van kiosk market space hotel b&b bnb hostel inn guesthouse roastery brewery
    bookshop bookstore boutique franchise warehouse farm vineyard florist florists
    nursery daycare school academy garage workshop gallery venue club cinema theatre theater
    church-hall hall kitchen catering caterer caterers foodtruck cart library coworking
    co-working laundrette laundromat pharmacy dentist dentists vets vet surgery practise
    consultancy charity nonprofit non-profit co-op cooperative chain outlet dispensary lab
    parlour parlor boulangerie patisserie pizzeria trattoria creamery bakehouse teahouse
    tearoom juicery gelateria canteen cafeteria hotel motel campsite marina shopfront
    """.split()
)

# Nouns that are not things a customer uses, owns or wants ("I have a question").
ABSTRACT = frozenset(
    """
    question questions problem problems issue issues idea ideas query queries order orders
    account time chance look minute moment second sec clue feeling sense way thing things
    stuff lot bit email emails message messages reply answer answers refund refunds return
    returns replacement exchange invoice receipt update updates tracking number code voucher
    discount confirmation notification password login complaint complaints feedback concern
    concerns doubt doubts option options choice choices one ones it this that something
    anything nothing everything help advice info information recommendation recommendations
    suggestion suggestions reason reasons day days week weeks month months year years
    morning afternoon evening night today tomorrow yesterday weekend chat call quote price
    prices cost costs money payment payments charge charges fee fees deal deals offer offers
    sale sales delay delays experience time issue mistake error think go word chance
    """.split()
)

# Verbs that name a device's job: "won't pair", "doesn't work" is a pain point, not a negation.
FUNCTION_VERBS = frozenset(
    """
    work pair connect turn start charge print load sync scan heat grind fit power boot read
    register open close stay hold come respond switch tap accept recognise recognize update
    install froth brew pour dispense drain fill seal lock unlock run stop calibrate log sign
    arrive show appear go get
    """.split()
)
# Verbs and words that tell of trouble ("the reader keeps dropping", "it arrived damaged").
TROUBLE_VERBS = frozenset(
    """
    break leak jam crash drop fail freeze overheat rattle squeak squeal die disconnect crack
    shatter burn clog stick malfunction flicker beep buzz grind dent tear rip
    spill chip stall glitch lag hang reset split burst puncture smash crush scratch bend
    overflow splutter sputter wobble jump skip slip creak seize snap rub wear rust buckle fray
    squeal grate clunk click
    """.split()
)
TROUBLE_STATES = frozenset(
    """
    broken faulty dead stale damaged missing late wrong bitter sour burnt burned loud noisy slow
    cracked leaking dented defective stuck jammed blocked clogged flat useless weak watery
    lukewarm cold torn ripped crushed smashed scratched bent loose wobbly unusable unreliable
    temperamental inconsistent patchy glitchy buggy laggy frozen overdue delayed lost
    stretched worn rusty rusted buckled seized squeaky creaky snapped warped frayed corroded
    scuffed leaky sticky stiff uncomfortable rattly
    """.split()
)

# Nouns that stand in for a thing without naming it ("the item", "some stuff") or measure it
# ("a bag", "a couple"): a fact's value is never only one of these (spaCy's stop words and
# number-likes already cover the pronouns, determiners and number words: "it", "one", "two").
PLACEHOLDER_NOUNS = frozenset(
    """
    stuff thing things item items product products piece pieces bit bits lot lots kind kinds
    sort sorts type types amount bag bags box boxes pack packs packet packets couple bunch
    """.split()
)

# Everyday words of shops and chat that the English word list (pyspellchecker) lacks; with the
# lexicons above they are words, not misspellings.
EVERYDAY_WORDS = frozenset(
    """
    admin app apps barista baristas cafe cafes wifi tech ebike ebikes smartphone smartphones
    matcha chai kombucha hoodie hoodies kg ml cm mm km lb lbs oz
    """.split()
)
